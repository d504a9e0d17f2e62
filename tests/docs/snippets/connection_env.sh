# --8<-- [start:json]
# JSON form (Airflow 2.3+): every field by name, extras as an object. A cog_ key speaks v3;
# org_id is optional (without it the hook asks GET /v3/self once per hook instance).
export AIRFLOW_CONN_DEVIN_DEFAULT='{
  "conn_type": "devin",
  "host": "https://api.devin.ai",
  "password": "cog_REPLACE_WITH_YOUR_KEY",
  "extra": {"org_id": "org-REPLACE_WITH_YOUR_ORG_ID", "timeout": 30, "max_retries": 5}
}'
# --8<-- [end:json]

# --8<-- [start:uri]
# URI form: the key goes in the password slot (URL-encode it if it has special characters);
# extras are query parameters.
export AIRFLOW_CONN_DEVIN_DEFAULT='devin://:cog_REPLACE_WITH_YOUR_KEY@api.devin.ai?org_id=org-REPLACE_WITH_YOUR_ORG_ID&timeout=30'
# --8<-- [end:uri]

# --8<-- [start:json_v1]
# A legacy v1 key (apk_user_ personal or apk_ service key): no org_id; the version follows the key.
export AIRFLOW_CONN_DEVIN_DEFAULT='{
  "conn_type": "devin",
  "host": "https://api.devin.ai",
  "password": "apk_user_REPLACE_WITH_YOUR_KEY",
  "extra": {"timeout": 30, "connect_timeout": 10, "max_retries": 5, "max_retry_wait": 60}
}'
# --8<-- [end:json_v1]

# --8<-- [start:uri_v1]
export AIRFLOW_CONN_DEVIN_DEFAULT='devin://:apk_user_REPLACE_WITH_YOUR_KEY@api.devin.ai?timeout=30&max_retries=5'
# --8<-- [end:uri_v1]

# --8<-- [start:enterprise]
# A dedicated Enterprise deployment: its own API domain in host.
export AIRFLOW_CONN_DEVIN_DEFAULT='{
  "conn_type": "devin",
  "host": "https://api.your-company.devinenterprise.com",
  "password": "cog_REPLACE_WITH_YOUR_KEY",
  "extra": {"api_version": "v3", "org_id": "org-REPLACE_WITH_YOUR_ORG_ID"}
}'
# --8<-- [end:enterprise]

# --8<-- [start:local]
# The local emulator, v3 (plain http:// is accepted only for loopback hosts). Its org is
# org-emulator, which GET /v3/self reports.
export AIRFLOW_CONN_DEVIN_DEFAULT='{
  "conn_type": "devin",
  "host": "http://127.0.0.1:8787",
  "password": "cog_emulator_test_key"
}'
# --8<-- [end:local]

# --8<-- [start:local_v1]
# The local emulator, v1.
export AIRFLOW_CONN_DEVIN_DEFAULT='{
  "conn_type": "devin",
  "host": "http://127.0.0.1:8787",
  "password": "apk_user_emulator_test_key"
}'
# --8<-- [end:local_v1]
