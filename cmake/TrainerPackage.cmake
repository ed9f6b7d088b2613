# cmake/TrainerPackage.cmake - what `cmake --install` adds for plugin authors
# besides the library, the CLI and the headers (core/CMakeLists.txt):
#
#   <libdir>/cmake/trainer/   find_package(trainer): trainer::trainer and
#                             trainer_add_plugin() (cmake/trainerPlugin.cmake)
#   <libdir>/pkgconfig/trainer.pc   pkg-config --cflags --libs trainer
#
# Both are relocatable: they locate the prefix from where they are installed,
# so `cmake --install build --prefix /elsewhere` and moving the prefix work.
include(CMakePackageConfigHelpers)

set(TR_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/trainer)

install(EXPORT trainerTargets
  NAMESPACE trainer::
  FILE trainerTargets.cmake
  DESTINATION ${TR_CMAKE_INSTALL_DIR})

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/trainerConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/trainerConfig.cmake
  INSTALL_DESTINATION ${TR_CMAKE_INSTALL_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR TR_INSTALL_PLUGIN_DIR)
# 0.x releases: any 0.y satisfies find_package(trainer 0.1); the plugin ABI
# is checked separately (trainer_ABI_VERSION, and the loader at run time).
write_basic_package_version_file(
  ${CMAKE_BINARY_DIR}/cmake/trainerConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${CMAKE_BINARY_DIR}/cmake/trainerConfig.cmake
  ${CMAKE_BINARY_DIR}/cmake/trainerConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/trainerPlugin.cmake
  DESTINATION ${TR_CMAKE_INSTALL_DIR})

# trainer.pc finds the prefix relative to itself (${pcfiledir}).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(TR_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(TR_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _tr_up "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" _tr_up "${_tr_up}")
  set(TR_PC_PREFIX "\${pcfiledir}/${_tr_up}")
  set(TR_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(TR_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(TR_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/trainer.pc.in ${CMAKE_BINARY_DIR}/cmake/trainer.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/cmake/trainer.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
