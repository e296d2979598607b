# The daemon: edges (config, log, broker, publish) around the apply path (table
# and store); daemon_group.c is a replicated group's member.
add_executable(baton-coordinator main.c daemon.c daemon_group.c clock.c publish.c snapdue.c config.c log.c broker.c)
target_link_libraries(baton-coordinator PRIVATE baton_group baton_table baton_store baton_common baton_edge ${BATON_PAHO} Threads::Threads)
install(TARGETS baton-coordinator DESTINATION ${CMAKE_INSTALL_BINDIR})
