/*
 * test_client.c - unit tests for the client library (clients/lib/client.c,
 * args.c, csv.c) and the certificate files (proto/cert.c). Requests and
 * events run against a fake daemon: a ROUTER served by a thread and an XPUB
 * driven by the test itself, both on tcp://127.0.0.1 with a random port.
 * The tests live in tests/unit/client/, one file per suite; this is the main.
 */
#include <sodium.h>

#include "client/client_test.h"

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const cu_suite_t suites[] = {
        client_cert_suite,
        client_requests_suite,
        client_events_suite,
        client_text_suite,
    };
    return cu_run_suites(suites, CU_COUNT(suites));
}
