-- search.lua -- wrk script of `make bench-server`: one search (one query
-- vector, k = 10) per request; bodies from SRV_BENCH_BODIES (common.lua).
endpoint = "/v2/vectordb/entities/search"
dofile(os.getenv("SRV_BENCH_LUA_DIR") .. "/common.lua")
