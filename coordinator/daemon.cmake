# The daemon: edges (config, log, broker) around the table and the store.
add_executable(baton-coordinator main.c daemon.c daemon_start.c snapdue.c config.c log.c broker.c guard.c probe.c)
target_link_libraries(baton-coordinator PRIVATE baton_table baton_store baton_metrics baton_common baton_edge ${BATON_PAHO} baton::mosquitto Threads::Threads)
install(TARGETS baton-coordinator DESTINATION ${CMAKE_INSTALL_BINDIR})
