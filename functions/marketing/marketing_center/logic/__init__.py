"""The marketing center's rules, as plain functions (no HTTP, no boto3): campaigns and their state machine
(`campaigns`, `states`), the holdout group (`holdout`), budgets (`budgets`)."""
