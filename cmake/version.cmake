# cmake -DSRC=DIR -DOUT=FILE [-DCOMMIT=TEXT] -P version.cmake: write OUT,
# a header defining LEURA_COMMIT, what `leura --version` and `leura-agent
# --version` say besides the release: `git describe --always --dirty` of
# SRC, or COMMIT when the builder gives one (-DLEURA_COMMIT=..., e.g. a
# distribution building from a tarball), or that the tree is no git
# checkout.  Run at every build (the leura_commit target); OUT changes only
# when its text does, so only then are the two files that include it
# rebuilt.
if(COMMIT)
	set(desc "${COMMIT}")
else()
	# only SRC's own repository: a tarball unpacked inside another
	# repository's work tree is no checkout of leura
	execute_process(COMMAND git -C "${SRC}" rev-parse --show-toplevel
		OUTPUT_VARIABLE top OUTPUT_STRIP_TRAILING_WHITESPACE
		RESULT_VARIABLE rc ERROR_QUIET)
	get_filename_component(src_real "${SRC}" REALPATH)
	if(rc EQUAL 0)
		get_filename_component(top "${top}" REALPATH)
	endif()
	if(rc EQUAL 0 AND top STREQUAL src_real)
		execute_process(COMMAND git -C "${SRC}" describe --always
			--dirty OUTPUT_VARIABLE desc
			OUTPUT_STRIP_TRAILING_WHITESPACE
			RESULT_VARIABLE rc ERROR_QUIET)
	else()
		set(rc 1)
	endif()
	if(NOT rc EQUAL 0 OR desc STREQUAL "")
		set(desc "not built from a git checkout")
	else()
		set(desc "commit ${desc}")
	endif()
endif()
string(REPLACE "\\" "\\\\" desc "${desc}")
string(REPLACE "\"" "\\\"" desc "${desc}")
set(text "/* made by cmake/version.cmake at build time */\n")
string(APPEND text "#define LEURA_COMMIT \"${desc}\"\n")
if(EXISTS "${OUT}")
	file(READ "${OUT}" old)
else()
	set(old "")
endif()
if(NOT old STREQUAL text)
	file(WRITE "${OUT}" "${text}")
endif()
