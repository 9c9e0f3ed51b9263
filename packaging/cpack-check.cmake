# CPACK_PROJECT_CONFIG_FILE: refuse a Debian package that would not work
if(CPACK_GENERATOR STREQUAL "DEB")
	if(NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
		message(FATAL_ERROR "a Debian package installs under /usr, "
			"this build under '${CPACK_PACKAGING_INSTALL_PREFIX}': "
			"configure it with -DCMAKE_INSTALL_PREFIX=/usr")
	endif()
endif()
