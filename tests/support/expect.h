/*
 * expect.h -- assertions on vs_status for the engine tests: on failure
 * they name the line, the call, the status and the engine's message.
 * Include after <cmocka.h> (they use fail_msg) and vectorstore.h.
 * test_engine.c keeps a stricter EXPECT_ST of its own (an error must
 * come with a message).
 */
#ifndef VS_TEST_EXPECT_H
#define VS_TEST_EXPECT_H

#define EXPECT_OK(call)                                                    \
  do {                                                                     \
    vs_status st_ = (call);                                                \
    if (st_ != VS_OK)                                                      \
      fail_msg("line %d: %s -> %s: %s", __LINE__, #call,                   \
               vs_status_name(st_), vs_errmsg(NULL));                      \
  } while (0)

#define EXPECT_ST(want, call)                                              \
  do {                                                                     \
    vs_status st_ = (call);                                                \
    if (st_ != (want))                                                     \
      fail_msg("line %d: %s -> %s, expected %s (%s)", __LINE__, #call,     \
               vs_status_name(st_), vs_status_name(want), vs_errmsg(NULL));\
  } while (0)

#endif
