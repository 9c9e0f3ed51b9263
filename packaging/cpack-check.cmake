# CPACK_PROJECT_CONFIG_FILE: the Debian package installs under the build's
# prefix, which must be /usr
if(CPACK_GENERATOR STREQUAL "DEB")
	set(CPACK_PACKAGING_INSTALL_PREFIX "${CPACK_LEURA_PREFIX}")
	if(NOT CPACK_LEURA_PREFIX STREQUAL "/usr")
		message(FATAL_ERROR "a Debian package installs under /usr, "
			"this build under '${CPACK_LEURA_PREFIX}': "
			"configure it with -DCMAKE_INSTALL_PREFIX=/usr")
	endif()
endif()
