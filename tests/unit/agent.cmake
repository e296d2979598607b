# libbaton's per-request state machine and helpers, and the CLI's option
# and duration parsing (agent/reqstate.c, agent/cli/options.c).
baton_unit_test(test_agent_cli baton_cli_core libbaton)
target_include_directories(test_agent_cli PRIVATE ${PROJECT_SOURCE_DIR}/agent ${PROJECT_SOURCE_DIR}/agent/cli)
