# Runs at `cmake --install` time (included from an install(CODE) block): writes
# the files whose content depends on the install prefix or on the built binary,
# then installs them. Inputs: LLE_BINARY (built executable), LLE_UNIT_SOURCE,
# LLE_STAGING_DIR, and LLE_BINDIR / LLE_DOCDIR / LLE_UNITDIR, each relative to
# CMAKE_INSTALL_PREFIX or absolute. file(INSTALL) honours DESTDIR.

function(lle_full_path out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

lle_full_path(bindir "${LLE_BINDIR}")
lle_full_path(docdir "${LLE_DOCDIR}")
lle_full_path(unitdir "${LLE_UNITDIR}")
# One staging directory per destination: installs into different prefixes
# may run at once (the tests do).
string(MD5 destination "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(LLE_STAGING_DIR "${LLE_STAGING_DIR}/${destination}")
file(MAKE_DIRECTORY "${LLE_STAGING_DIR}")

# The unit as shipped names the default prefix; point it at this one.
file(READ "${LLE_UNIT_SOURCE}" unit)
string(REPLACE "/usr/local/bin/llm_log_exporter" "${bindir}/llm_log_exporter" unit "${unit}")
string(REPLACE "/usr/local/share/doc/llm_log_exporter" "${docdir}" unit "${unit}")
file(WRITE "${LLE_STAGING_DIR}/llm_log_exporter.service" "${unit}")
file(INSTALL "${LLE_STAGING_DIR}/llm_log_exporter.service" DESTINATION "${unitdir}")

# The --help text stands in for a man page: always what this binary accepts.
execute_process(COMMAND "${LLE_BINARY}" --help
                OUTPUT_FILE "${LLE_STAGING_DIR}/llm_log_exporter-help.txt"
                RESULT_VARIABLE help_result)
if(NOT help_result EQUAL 0)
  message(FATAL_ERROR "llm_log_exporter --help failed (${help_result}): cannot write its help text")
endif()
file(INSTALL "${LLE_STAGING_DIR}/llm_log_exporter-help.txt" DESTINATION "${docdir}")
