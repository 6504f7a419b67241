/*
 * The Lease decisions: parsing a Lease, whose it is, and when it expires,
 * measured on the candidate's own clock from when it saw the record
 * change, whatever renewTime says.
 */
#include <errno.h>
#include <string.h>

#include "lease.h"
#include "tap.h"

#define HELD_BY_A                                                              \
    "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","           \
    "\"metadata\":{\"name\":\"ec\",\"namespace\":\"ns\","                      \
    "\"resourceVersion\":\"41\"},"                                             \
    "\"spec\":{\"holderIdentity\":\"a_1\",\"leaseDurationSeconds\":15,"        \
    "\"acquireTime\":\"2026-01-01T00:00:00.000000Z\","                         \
    "\"renewTime\":\"2026-01-01T00:00:10.000000Z\","                           \
    "\"leaseTransitions\":3}}"

/* The same Lease renewed: only renewTime and resourceVersion moved. */
#define RENEWED_BY_A                                                           \
    "{\"kind\":\"Lease\",\"metadata\":{\"resourceVersion\":\"42\"},"           \
    "\"spec\":{\"holderIdentity\":\"a_1\",\"leaseDurationSeconds\":15,"        \
    "\"acquireTime\":\"2026-01-01T00:00:00.000000Z\","                         \
    "\"renewTime\":\"2026-01-01T00:00:12.000000Z\","                           \
    "\"leaseTransitions\":3}}"

static void
test_parse(void)
{
    struct lease_record r;

    is_int(lease_parse(HELD_BY_A, strlen(HELD_BY_A), &r), 0, "a Lease parses");
    is_str(r.holder, "a_1", "holderIdentity is read");
    is_str(r.resource_version, "41", "resourceVersion is read");
    is_int(r.duration_s, 15, "leaseDurationSeconds is read");
    is_int(r.transitions, 3, "leaseTransitions is read");
    is_str(r.renew_time, "2026-01-01T00:00:10.000000Z", "renewTime is read");

    is_int(lease_parse("{\"kind\":\"ConfigMap\",\"metadata\":{}}", 33, &r),
           -EBADMSG, "another kind is refused");
    is_int(lease_parse("{\"kind\":\"Lease\"", 15, &r), -EBADMSG,
           "a cut body is refused");
    is_int(lease_parse("{\"kind\":\"Lease\",\"metadata\":{}}", 30, &r), 0,
           "a Lease without spec parses");
    is_str(r.holder, "", "and is held by nobody");
}

static void
test_decide(void)
{
    struct lease_observation o = {0};
    struct lease_record r;

    is_int(lease_decide(&o, "b_2", 100), LEASE_FREE,
           "a Lease never seen is free to try");

    lease_parse(HELD_BY_A, strlen(HELD_BY_A), &r);
    lease_observe(&o, &r, 100);
    is_int(lease_decide(&o, "b_2", 100), LEASE_HELD,
           "a Lease just seen held by another is held");
    is_int(lease_decide(&o, "a_1", 100), LEASE_OURS,
           "the holder sees its own Lease as ours");
    is_int(lease_decide(&o, "b_2", 115), LEASE_HELD,
           "it is still held at exactly the duration");
    is_int(lease_decide(&o, "b_2", 115.5), LEASE_FREE,
           "it is free once the duration passed without a change");

    lease_observe(&o, &r, 110);
    is_int(lease_decide(&o, "b_2", 115.5), LEASE_FREE,
           "reading the same record again does not restart the clock");

    lease_parse(RENEWED_BY_A, strlen(RENEWED_BY_A), &r);
    lease_observe(&o, &r, 112);
    is_int(lease_decide(&o, "b_2", 126), LEASE_HELD,
           "a renewal seen restarts the clock");
    is_int(lease_decide(&o, "b_2", 127.5), LEASE_FREE,
           "and it expires a duration after it was seen");

    r.holder[0] = '\0';
    lease_observe(&o, &r, 130);
    is_int(lease_decide(&o, "b_2", 130), LEASE_FREE,
           "a released Lease is free at once");
}

static void
test_micro_time(void)
{
    char t[40];

    lease_micro_time(t, sizeof(t));
    is_int(strlen(t), 27, "a MicroTime has microseconds and a Z");
    ok(t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[26] == 'Z',
       "a MicroTime is RFC 3339");
}

int
main(void)
{
    test_parse();
    test_decide();
    test_micro_time();
    return tap_done();
}
