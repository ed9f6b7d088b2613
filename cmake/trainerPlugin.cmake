# trainerPlugin.cmake - trainer_add_plugin(), installed with the trainer's
# CMake package (find_package(trainer) includes it).
#
#   trainer_add_plugin(<name> [INSTALL] [DESTINATION <dir>] <source>...)
#
# Builds <name>.so, a MODULE the trainer can dlopen: no "lib" prefix, hidden
# symbols but the entry points (TR_PLUGIN_DEFINE / TR_SCORERS_DEFINE), linked
# against trainer::trainer with --no-undefined (a call to a function that
# does not exist fails at link time, not when the trainer loads the plugin),
# C11 unless the project chose a standard.
#
# INSTALL installs it into <DESTINATION>, by default
# ${CMAKE_INSTALL_LIBDIR}/trainer/plugins under the project's install prefix:
# install with --prefix set to the trainer's prefix and `trainer` finds it
# without configuration (DESTINATION ${trainer_PLUGIN_DIR} names that folder
# absolutely). Anywhere else, point TRAINER_PLUGIN_PATH at it, put it next to
# the config, or name it by path in model.plugin.
include_guard(GLOBAL)

function(trainer_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 TAP "INSTALL" "DESTINATION" "")
  set(sources ${TAP_UNPARSED_ARGUMENTS})
  if(NOT sources)
    message(FATAL_ERROR "trainer_add_plugin(${name}): no source files given")
  endif()
  add_library(${name} MODULE ${sources})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    SUFFIX ".so"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(NOT DEFINED CMAKE_C_STANDARD)
    set_target_properties(${name} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON)
  endif()
  target_link_libraries(${name} PRIVATE trainer::trainer)
  if(UNIX)
    target_link_libraries(${name} PRIVATE m)
  endif()
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    target_link_options(${name} PRIVATE "LINKER:--no-undefined")
  endif()
  if(TAP_INSTALL OR TAP_DESTINATION)
    if(NOT TAP_DESTINATION)
      if(CMAKE_INSTALL_LIBDIR)
        set(TAP_DESTINATION "${CMAKE_INSTALL_LIBDIR}/trainer/plugins")
      else()
        set(TAP_DESTINATION "lib/trainer/plugins")
      endif()
    endif()
    install(TARGETS ${name} LIBRARY DESTINATION "${TAP_DESTINATION}")
  endif()
endfunction()
