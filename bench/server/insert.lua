-- insert.lua -- wrk script of `make bench-server`: one insert of 1,000
-- rows x 128 floats per request; bodies from SRV_BENCH_BODIES (common.lua).
endpoint = "/v2/vectordb/entities/insert"
dofile(os.getenv("SRV_BENCH_LUA_DIR") .. "/common.lua")
