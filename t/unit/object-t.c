/*
 * Reading objects: the kept fields come out of real-looking objects, the
 * status text is canonical (sorted keys, conditions as a sorted map) so
 * that it changes only when the status does, the manager of the latest
 * write is found, and hostile field types are refused, never trusted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "object.h"
#include "tap.h"

static char *const default_fields[] = {"phase", "conditions"};

/* Parses JSON text; the tests' texts are valid. */
static struct json_object *
parse(const char *text)
{
    struct json_object *json = json_tokener_parse(text);

    if (!json)
        printf("# cannot parse test JSON: %s\n", text);
    return json;
}

/* Reads text with the default status fields; returns object_read's r. */
static int
read_text(const char *text, struct object *out, const char **problem,
          struct json_object **json)
{
    *json = parse(text);
    return object_read(*json, default_fields, 2, out, problem);
}

/* The status text of text's .status for the given fields. */
static char *
status_of(const char *text, char *const *fields, size_t n)
{
    struct json_object *json = parse(text);
    char *s = object_status_text(json, fields, n);

    json_object_put(json);
    return s;
}

static const char notebook[] =
    "{\"apiVersion\":\"tensorstack.dev/v1beta1\",\"kind\":\"Notebook\","
    "\"metadata\":{\"name\":\"kaniko\",\"namespace\":\"demo\","
    "\"uid\":\"4c9ba5f8-08af-42ef-ac46-4d92a10a8cc2\","
    "\"resourceVersion\":\"479109581\",\"generation\":3,"
    "\"deletionTimestamp\":\"2023-10-18T07:00:00Z\","
    "\"finalizers\":[\"tensorstack.dev/a\",\"tensorstack.dev/b\"],"
    "\"managedFields\":["
    "{\"manager\":\"kubectl\",\"time\":\"2023-10-18T06:09:49Z\"},"
    "{\"manager\":\"notebook-controller\",\"time\":\"2023-10-18T06:10:02Z\"},"
    "{\"manager\":\"kubelet\",\"time\":\"2023-10-18T06:09:55Z\"}]},"
    "\"spec\":{\"image\":\"jupyter\"},"
    "\"status\":{\"phase\":\"Running\",\"ignored\":1,\"conditions\":["
    "{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"PodReady\","
    "\"lastTransitionTime\":\"2023-10-18T06:10:00Z\",\"message\":\"m\"},"
    "{\"type\":\"Available\",\"status\":\"False\"}]}}";

/* Every kept field of a full object. */
static void
test_fields(void)
{
    struct json_object *json;
    struct object o;
    const char *problem;

    is_int(read_text(notebook, &o, &problem, &json), 0, "a Notebook is read");
    is_str(o.fields.uid, "4c9ba5f8-08af-42ef-ac46-4d92a10a8cc2", "uid");
    is_str(o.fields.name, "kaniko", "name");
    is_str(o.fields.namespace, "demo", "namespace");
    is_str(o.fields.resource_version, "479109581", "resourceVersion");
    is_int(o.fields.generation, 3, "generation");
    is_str(o.fields.deletion_timestamp, "2023-10-18T07:00:00Z",
           "deletionTimestamp");
    is_str(o.fields.finalizers, "tensorstack.dev/a,tensorstack.dev/b",
           "finalizers, joined by commas");
    is_str(o.fields.status,
           "{\"conditions\":{\"Available\":[\"False\",\"\"],"
           "\"Ready\":[\"True\",\"PodReady\"]},\"phase\":\"Running\"}",
           "status: tracked fields only, conditions as a sorted map");
    is_str(o.manager, "notebook-controller",
           "the manager is that of the latest managedFields entry");
    object_release(&o);
    json_object_put(json);
}

/* Absent optional fields read as "" and 0. */
static void
test_minimal_object(void)
{
    struct json_object *json;
    struct object o;
    const char *problem;

    is_int(read_text("{\"metadata\":{\"uid\":\"u\",\"name\":\"n\"}}", &o,
                     &problem, &json),
           0, "an object with only a uid and a name is read");
    is_str(o.fields.namespace, "", "no namespace reads as \"\"");
    is_str(o.fields.resource_version, "", "no resourceVersion reads as \"\"");
    is_int(o.fields.generation, 0, "no generation reads as 0");
    is_str(o.fields.deletion_timestamp, "",
           "no deletionTimestamp reads as \"\"");
    is_str(o.fields.finalizers, "", "no finalizers read as \"\"");
    is_str(o.fields.status, "", "no status reads as \"\"");
    is_str(o.manager, "", "no managedFields: no manager");
    object_release(&o);
    json_object_put(json);
}

/* Key order in, whatever it was, does not change the text out. */
static void
test_status_canonical(void)
{
    char *const fields[] = {"resources", "phase"};
    char *a, *b;

    a = status_of("{\"phase\":\"Up\",\"resources\":{\"b\":1,\"a\":"
                  "{\"d\":[{\"y\":1,\"x\":2}],\"c\":1.0}}}",
                  fields, 2);
    b = status_of("{\"resources\":{\"a\":{\"c\":1.0,\"d\":[{\"x\":2,\"y\":1}"
                  "]},\"b\":1},\"phase\":\"Up\"}",
                  fields, 2);
    is_str(a,
           "{\"phase\":\"Up\",\"resources\":{\"a\":{\"c\":1.0,\"d\":[{\"x\":2,"
           "\"y\":1}]},\"b\":1}}",
           "keys are sorted at every level, numbers keep their text");
    is_str(b, a, "the same status in another key order gives the same text");
    free(a);
    free(b);

    a = status_of("{\"conditions\":[{\"type\":\"B\",\"status\":\"True\"},"
                  "{\"type\":\"A\",\"status\":\"False\",\"reason\":\"R\"}]}",
                  default_fields, 2);
    b = status_of("{\"conditions\":[{\"type\":\"A\",\"status\":\"False\","
                  "\"reason\":\"R\",\"lastProbeTime\":\"now\"},"
                  "{\"status\":\"True\",\"type\":\"B\"}]}",
                  default_fields, 2);
    is_str(a,
           "{\"conditions\":{\"A\":[\"False\",\"R\"],\"B\":[\"True\",\"\"]}}",
           "conditions sorted by type, whatever their order in the list");
    is_str(b, a, "and their timestamps and messages do not count");
    free(a);
    free(b);
}

/* Fields absent, null, or of the wrong shape are left out. */
static void
test_status_absent(void)
{
    char *const none[] = {"missing"};
    char *s;

    s = status_of("{\"phase\":null,\"conditions\":[]}", default_fields, 2);
    is_str(s, "", "a null phase and empty conditions give no status text");
    free(s);
    s = status_of("{\"conditions\":\"Ready\"}", default_fields, 2);
    is_str(s, "", "conditions that are not a list are left out");
    free(s);
    s = status_of("{\"conditions\":[1,\"x\",{\"status\":\"True\"},"
                  "{\"type\":7},{\"type\":\"Ok\",\"status\":true}]}",
                  default_fields, 2);
    is_str(s, "{\"conditions\":{\"Ok\":[\"\",\"\"]}}",
           "conditions without a string type are skipped, odd members are "
           "\"\"");
    free(s);
    s = status_of("{\"phase\":\"Up\"}", none, 1);
    is_str(s, "", "an untracked status gives no text");
    free(s);
    s = status_of("{\"phase\":\"Up\"}", NULL, 0);
    is_str(s, "", "no tracked fields give no text");
    free(s);
    s = object_status_text(NULL, default_fields, 2);
    is_str(s, "", "a missing status gives no text");
    free(s);
}

/* A huge status field is kept as its digest, so records stay small. */
static void
test_status_digest(void)
{
    char *const fields[] = {"nodes", "phase"};
    size_t n = OBJECT_STATUS_FIELD_MAX + 100;
    char *text = malloc(n + 64), *s1, *s2;

    snprintf(text, n + 64, "{\"phase\":\"Up\",\"nodes\":\"%0*d\"}", (int)n, 1);
    s1 = status_of(text, fields, 2);
    snprintf(text, n + 64, "{\"phase\":\"Up\",\"nodes\":\"%0*d\"}", (int)n, 2);
    s2 = status_of(text, fields, 2);
    ok(s1 && strlen(s1) < 200, "an oversized field is replaced by a digest");
    ok(s1 && strstr(s1, "\"digest\":") && strstr(s1, "\"phase\":\"Up\""),
       "the other fields stay as they are");
    ok(s1 && s2 && strcmp(s1, s2) != 0, "a change to it changes the digest");
    printf("# %s\n", s1 ? s1 : "(null)");
    free(s1);
    free(s2);
    free(text);
}

/* The latest write's manager: by time, the later entry on a tie. */
static void
test_manager(void)
{
    struct json_object *json;
    struct object o;
    const char *problem;

    read_text("{\"metadata\":{\"uid\":\"u\",\"name\":\"n\",\"managedFields\":["
              "{\"manager\":\"a\",\"time\":\"2024-01-01T00:00:01Z\"},"
              "{\"manager\":\"b\",\"time\":\"2024-01-01T00:00:01Z\"},"
              "{\"manager\":5,\"time\":\"2024-01-01T00:00:09Z\"},"
              "{\"time\":\"2024-01-01T00:00:09Z\"},\"x\","
              "{\"manager\":\"old\",\"time\":\"2023-01-01T00:00:00Z\"}]}}",
              &o, &problem, &json);
    is_str(o.manager, "b",
           "of equal times the later entry wins; invalid entries are skipped");
    object_release(&o);
    json_object_put(json);

    read_text("{\"metadata\":{\"uid\":\"u\",\"name\":\"n\","
              "\"managedFields\":{\"manager\":\"a\"}}}",
              &o, &problem, &json);
    is_str(o.manager, "", "managedFields that are not a list give none");
    object_release(&o);
    json_object_put(json);
}

/* Objects a watcher cannot use, each refused with a reason. */
static void
test_hostile(void)
{
    static const char *const bad[] = {
        "[]",
        "{}",
        "{\"metadata\":[]}",
        "{\"metadata\":{\"name\":\"n\"}}",
        "{\"metadata\":{\"uid\":7,\"name\":\"n\"}}",
        "{\"metadata\":{\"uid\":\"\",\"name\":\"n\"}}",
        "{\"metadata\":{\"uid\":\"u\"}}",
        "{\"metadata\":{\"uid\":\"u\",\"name\":null}}",
        "{\"metadata\":{\"uid\":\"u\",\"name\":\"n\\u0000x\"}}",
        "{\"metadata\":{\"uid\":\"u\",\"name\":\"n\",\"namespace\":1}}",
        "{\"metadata\":{\"uid\":\"u\",\"name\":\"n\",\"resourceVersion\":1}}",
        "{\"metadata\":{\"uid\":\"u\",\"name\":\"n\",\"generation\":\"1\"}}",
        "{\"metadata\":{\"uid\":\"u\",\"name\":\"n\",\"generation\":-1}}",
        "{\"metadata\":{\"uid\":\"u\",\"name\":\"n\",\"generation\":1.5}}",
        "{\"metadata\":{\"uid\":\"u\",\"name\":\"n\",\"finalizers\":\"f\"}}",
        "{\"metadata\":{\"uid\":\"u\",\"name\":\"n\",\"finalizers\":[1]}}",
        "{\"metadata\":{\"uid\":\"u\",\"name\":\"n\","
        "\"deletionTimestamp\":{}}}",
    };
    int refused = 0;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_object *json;
        struct object o;
        const char *problem = NULL;
        int r = read_text(bad[i], &o, &problem, &json);

        if (r == -EINVAL && problem)
            refused++;
        else
            printf("#   not refused: %s\n", bad[i]);
        object_release(&o);
        json_object_put(json);
    }
    is_int(refused, sizeof(bad) / sizeof(bad[0]),
           "every object with a missing or mistyped field is refused with a "
           "reason");
}

/* Names and uids beyond any real object are refused. */
static void
test_overlong(void)
{
    char *text = malloc(OBJECT_NAME_MAX + 200);
    struct json_object *json;
    struct object o;
    const char *problem;

    snprintf(text, OBJECT_NAME_MAX + 200,
             "{\"metadata\":{\"uid\":\"%0*d\",\"name\":\"n\"}}",
             OBJECT_SHORT_MAX + 1, 0);
    is_int(read_text(text, &o, &problem, &json), -EINVAL,
           "a uid longer than any real one is refused");
    object_release(&o);
    json_object_put(json);
    snprintf(text, OBJECT_NAME_MAX + 200,
             "{\"metadata\":{\"uid\":\"u\",\"name\":\"%0*d\"}}",
             OBJECT_NAME_MAX + 1, 0);
    is_int(read_text(text, &o, &problem, &json), -EINVAL,
           "so is a name over the limit");
    object_release(&o);
    json_object_put(json);
    free(text);
}

/* Thousands of finalizers are cut at a whole name, with a count. */
static void
test_many_finalizers(void)
{
    size_t size = 2000 * 40 + 100, len;
    char *text = malloc(size);
    struct json_object *json;
    struct object o;
    const char *problem;

    len = (size_t)snprintf(text, size,
                           "{\"metadata\":{\"uid\":\"u\","
                           "\"name\":\"n\",\"finalizers\":[");
    for (int i = 0; i < 2000; i++)
        len += (size_t)snprintf(text + len, size - len, "%s\"example.com/f%d\"",
                                i ? "," : "", i);
    snprintf(text + len, size - len, "]}}");
    is_int(read_text(text, &o, &problem, &json), 0,
           "an object with 2000 finalizers is read");
    ok(strlen(o.fields.finalizers) <= OBJECT_FINALIZERS_MAX,
       "its finalizers text stays within the limit");
    ok(strstr(o.fields.finalizers, " more") != NULL &&
           strncmp(o.fields.finalizers, "example.com/f0,example.com/f1,", 30) ==
               0,
       "it keeps the first names whole and says how many more there are");
    object_release(&o);
    json_object_put(json);
    free(text);
}

/* Same kept fields but the resourceVersion: nothing to report. */
static void
test_same(void)
{
    struct object_fields a = {"u", "n", "ns", "1", 2, "", "f", "{}", ""};
    struct object_fields b = a;

    b.resource_version = "2";
    ok(object_fields_same(&a, &b), "a new resourceVersion alone is no change");
    b.status = "{\"phase\":\"Up\"}";
    ok(!object_fields_same(&a, &b), "a new status text is");
    b = a;
    b.generation = 3;
    ok(!object_fields_same(&a, &b), "so is a new generation");
    b = a;
    b.finalizers = "";
    ok(!object_fields_same(&a, &b), "and new finalizers");
    b = a;
    b.deletion_timestamp = "t";
    ok(!object_fields_same(&a, &b), "and a deletionTimestamp");
    b = a;
    b.status_since = "0";
    ok(object_fields_same(&a, &b), "status_since is derived: no change");
}

/* status_since carries over while the status stays. */
static void
test_status_since(void)
{
    struct object_fields a = {"u", "n", "ns", "5", 2, "", "", "{}", ""};
    struct object_fields b = a;

    is_str(object_status_since(&a), "5",
           "\"\" stands for the version's own resourceVersion");
    b.resource_version = "7";
    b.generation = 3;
    object_status_carry(&a, &b);
    is_str(object_status_since(&b), "5",
           "a spec change keeps the version the status held since");
    a = b;
    b.resource_version = "9";
    b.status = "{\"phase\":\"Up\"}";
    object_status_carry(&a, &b);
    is_str(object_status_since(&b), "9",
           "a status change starts it again at its own version");
}

/* A bookmark's resourceVersion, and none when it is not a string. */
static void
test_resource_version(void)
{
    struct json_object *json;

    json = parse("{\"metadata\":{\"resourceVersion\":\"12\"}}");
    is_str(object_resource_version(json), "12",
           "a bookmark's resourceVersion is read");
    json_object_put(json);
    json = parse("{\"metadata\":{\"resourceVersion\":12}}");
    ok(object_resource_version(json) == NULL,
       "a number is not a resourceVersion");
    json_object_put(json);
}

int
main(void)
{
    test_fields();
    test_minimal_object();
    test_status_canonical();
    test_status_absent();
    test_status_digest();
    test_manager();
    test_hostile();
    test_overlong();
    test_many_finalizers();
    test_same();
    test_status_since();
    test_resource_version();
    return tap_done();
}
