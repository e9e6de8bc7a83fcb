# cmake -DMESSAGE=... -P fail.cmake: a test that fails with MESSAGE, registered
# in place of a test whose tool is not installed.
message(FATAL_ERROR "${MESSAGE}")
