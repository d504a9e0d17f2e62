# --8<-- [start:json]
# JSON form (Airflow 2.3+): every field by name, extras as an object.
export AIRFLOW_CONN_DEVIN_DEFAULT='{
  "conn_type": "devin",
  "host": "https://api.devin.ai",
  "password": "apk_user_REPLACE_WITH_YOUR_KEY",
  "extra": {"timeout": 30, "connect_timeout": 10, "max_retries": 5, "max_retry_wait": 60}
}'
# --8<-- [end:json]

# --8<-- [start:uri]
# URI form: the key goes in the password slot (URL-encode it if it has special characters);
# extras are query parameters.
export AIRFLOW_CONN_DEVIN_DEFAULT='devin://:apk_user_REPLACE_WITH_YOUR_KEY@api.devin.ai?timeout=30&max_retries=5'
# --8<-- [end:uri]

# --8<-- [start:local]
# A local emulator (plain http:// is accepted only for loopback hosts).
export AIRFLOW_CONN_DEVIN_DEFAULT='{
  "conn_type": "devin",
  "host": "http://127.0.0.1:8787",
  "password": "apk_user_emulator_test_key"
}'
# --8<-- [end:local]
