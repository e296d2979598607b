# The man pages baton(1) and baton-coordinator(8), installed by cmake --install.
# Included from examples/CMakeLists.txt; checked by tests/docs/test_man.py.
install(FILES ${PROJECT_SOURCE_DIR}/man/baton.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/man/baton-coordinator.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
