-- has.lua -- wrk script of `make bench-server`: collections/has, the
-- cheapest request there is (no engine work beyond a catalog lookup), so
-- its server CPU per request is the floor that HTTP, libmicrohttpd and the
-- envelope cost on this machine.  Bodies from SRV_BENCH_BODIES (common.lua).
endpoint = "/v2/vectordb/collections/has"
dofile(os.getenv("SRV_BENCH_LUA_DIR") .. "/common.lua")
