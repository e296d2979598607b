# The wire layer: names grammar and topics, the JSON codec, and the
# conformance of what the codec writes to the JSON Schemas in schema/.
baton_unit_test(test_names baton_schema)
baton_unit_test(test_wire baton_schema)
