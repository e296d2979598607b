# The wire layer: names grammar and topics, the JSON codec, and the
# conformance of what the codec writes to the JSON Schemas in schema/.
# test_names checks every resource name the grammar accepts against the
# broker's own topic rules (libmosquitto).
baton_unit_test(test_names baton_schema baton::mosquitto)
baton_unit_test(test_wire baton_schema)
baton_unit_test(test_wire_admin baton_schema)

# Schema conformance: test_wire writes one file per kind of encoded message,
# then schema_check.py validates them (Debian's python3-jsonschema: use
# /usr/bin/python3, not whatever python3 is first on PATH).
set(BATON_WIRE_FIXTURES ${CMAKE_CURRENT_BINARY_DIR}/wire_fixtures)
add_test(NAME wire_schema_fixtures_clean COMMAND ${CMAKE_COMMAND} -E rm -rf ${BATON_WIRE_FIXTURES})
add_test(NAME wire_schema_fixtures COMMAND test_wire --dump-fixtures ${BATON_WIRE_FIXTURES})
add_test(NAME schema_check
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/schema_check.py
                 --schemas ${CMAKE_CURRENT_LIST_DIR}/../../schema --fixtures ${BATON_WIRE_FIXTURES})
set_tests_properties(wire_schema_fixtures_clean PROPERTIES LABELS unit FIXTURES_SETUP wire_fixtures_clean)
set_tests_properties(wire_schema_fixtures PROPERTIES LABELS unit
                     FIXTURES_REQUIRED wire_fixtures_clean FIXTURES_SETUP wire_fixtures)
set_tests_properties(schema_check PROPERTIES LABELS unit FIXTURES_REQUIRED wire_fixtures TIMEOUT 120)
