# cmake -DLOWDOWN=PROG -DIN=PAGE.md -DOUT=PAGE -DNAME=leura-apply
# -DSECTION=1 -DVERSION=V -P man.cmake: render a docs/man page to roff
# with lowdown(1).  The markdown's first line, "# NAME(SECTION)", becomes
# the .TH line; its "## NAME", "## SYNOPSIS" ... the .SH sections.  The
# page is then compressed, OUT.gz, as Debian installs man pages (gzip -9n:
# no name or time stamp, the same bytes at every build).
file(READ "${IN}" md)
string(REGEX REPLACE "^# [^\n]*\n" "" md "${md}")
file(WRITE "${OUT}.md" "${md}")
execute_process(COMMAND "${LOWDOWN}" -s -Tman
	-M "title=${NAME}" -M "section=${SECTION}"
	-M "source=Leura ${VERSION}" -M "volume=Leura Manual"
	-M shiftheadinglevelby=-1 -o "${OUT}" "${OUT}.md"
	RESULT_VARIABLE rc)
file(REMOVE "${OUT}.md")
if(NOT rc EQUAL 0)
	file(REMOVE "${OUT}")
	message(FATAL_ERROR "lowdown failed on ${IN}")
endif()
execute_process(COMMAND gzip -9nf "${OUT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "gzip failed on ${OUT}")
endif()
