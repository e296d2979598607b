# The replicated group's pieces that know no MQTT: the log-entry codec, the
# one apply path (decode -> table -> store), the store's image and dump, and
# the libraft FSM adaptor; apply.c records into metrics.c. log.c comes with the
# program that links this.
add_library(baton_group STATIC glog.c apply.c store_snap.c group_fsm.c group.c group_members.c peers.c)
target_include_directories(baton_group PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(baton_group PUBLIC baton_store baton_table baton_metrics baton_common baton::raft)
