# The coordinator's metrics: buckets, the text format, the request/answer pairing.
baton_unit_test(test_metrics baton_metrics)
