# The daemon: edges (config, log, broker, guard, probe) around the table and the
# store; daemon_group.c (with apply.c, publish.c, clock.c) is a replicated
# group's member.
add_executable(baton-coordinator main.c daemon.c daemon_start.c daemon_group.c member_out.c group_guard.c group_admin.c admin_cli.c clock.c publish.c snapdue.c config.c
               log.c broker.c guard.c probe.c)
target_link_libraries(baton-coordinator PRIVATE baton_group baton_table baton_store baton_metrics baton_common baton_edge
                      ${BATON_PAHO} baton::mosquitto Threads::Threads)
install(TARGETS baton-coordinator DESTINATION ${CMAKE_INSTALL_BINDIR})
