# What both programs parse the same way (common/): durations, sync levels,
# password files.
baton_unit_test(test_common baton_common)
