/*
 * The watcher's paginated list, as client-go's pager does it: pages of
 * 500 objects, the first from the watch cache (resourceVersion 0), a
 * relist from the latest state; a continue token that expired (410)
 * falls back to one list without pages.  Every object goes to the
 * observer, which reports the differences once the list is complete.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "kube.h"
#include "log.h"
#include "object.h"
#include "watcher_internal.h"

/* client-go's page size for lists. */
#define LIST_PAGE_SIZE 500
/* Lists nest two levels above their objects. */
#define LIST_DEPTH 66
/*
 * A continue token is a few hundred bytes of base64.  A longer one cannot
 * be sent back in a URL of reasonable size, and cutting it would end the
 * list early: objects missed would read as deleted.
 */
#define CONTINUE_TOKEN_MAX 2048
/* The collection, selectors and an escaped token fit with room to spare. */
#define PAGE_PATH_MAX 16384

/* A list is complete: count a relist, and watch from its version. */
void
watcher_list_done(struct watcher *w, const char *rv)
{
    log_info(2, "listed %s at resourceVersion %s", w->opt->key, rv);
    if (w->relisting)
        watcher_count(w, "event_controller_relists_total");
    else
        watcher_synced(w);
    watcher_trouble_over(w);
    w->relisting = true;
    w->list_in_pages_once = false;
    w->phase = PHASE_WATCH;
}

/* Reads one page: its items into the observer, its metadata out. */
static int
read_page(struct watcher *w, struct json_object *page, char *rv,
          char *continue_token, size_t token_size)
{
    struct json_object *items, *metadata, *v;
    const char *s;
    size_t n;
    int r;

    if (!json_object_object_get_ex(page, "items", &items) ||
        !(json_object_is_type(items, json_type_array) ||
          json_object_is_type(items, json_type_null)) ||
        !json_object_object_get_ex(page, "metadata", &metadata) ||
        !(s = object_resource_version(page)) || !*s)
        return -EBADMSG;

    snprintf(rv, OBSERVER_RESOURCE_VERSION_MAX + 1, "%s", s);
    continue_token[0] = '\0';
    if (json_object_object_get_ex(metadata, "continue", &v) && v) {
        if (!json_object_is_type(v, json_type_string) ||
            (size_t)json_object_get_string_len(v) >= token_size)
            return -EBADMSG;
        snprintf(continue_token, token_size, "%s", json_object_get_string(v));
    }

    n = items ? json_object_array_length(items) : 0;
    for (size_t i = 0; i < n; i++) {
        r = observer_list_item(&w->observer,
                               json_object_array_get_idx(items, i));
        if (r < 0)
            return w->output_error = r;
    }
    return 0;
}

/* Parses a page's body and reads it. */
static int
parse_page(struct watcher *w, const struct kube_response *resp, char *rv,
           char *continue_token, size_t token_size)
{
    struct json_tokener *tok;
    struct json_object *page = NULL;
    int r;

    if (resp->body_len > INT_MAX || !(tok = json_tokener_new_ex(LIST_DEPTH)))
        return -EBADMSG;
    page = json_tokener_parse_ex(tok, resp->body, (int)resp->body_len);
    json_tokener_free(tok);
    r = page ? read_page(w, page, rv, continue_token, token_size) : -EBADMSG;
    json_object_put(page);
    return r;
}

/*
 * The path of one page.  The first list may be served from the watch
 * cache (resourceVersion 0); a relist reads the latest state ("") since it
 * follows a 410.  Continue pages carry only the token.  full: one list
 * without pages, after a continue token expired.
 */
static void
page_path(struct watcher *w, char *buf, size_t size, const char *token,
          bool full)
{
    char *escaped = NULL;

    if (full)
        snprintf(buf, size, "%s?%s", w->path,
                 w->selectors[0] ? w->selectors + 1 : "");
    else if (token[0] && (escaped = curl_easy_escape(NULL, token, 0)))
        snprintf(buf, size, "%s?limit=%d&continue=%s%s", w->path,
                 LIST_PAGE_SIZE, escaped, w->selectors);
    else
        snprintf(buf, size, "%s?limit=%d&resourceVersion=%s%s", w->path,
                 LIST_PAGE_SIZE, w->relisting ? "" : "0", w->selectors);
    curl_free(escaped);
}

/* Asks for one page; on failure decides what next and returns false. */
static bool
fetch_page(struct watcher *w, const char *path, struct kube_response *resp)
{
    int r = kube_request(w->client, "GET", path, NULL, NULL, 0, resp);

    if (r == -ECANCELED)
        return false;
    if (r < 0) {
        watcher_transport_trouble(w, &w->backoff, "list", r, resp->error);
        return false;
    }
    return true;
}

/* The outcome of one page: 1 for another page, 0 done, -1 failed. */
static int
page_outcome(struct watcher *w, struct kube_response *resp, char *rv,
             char *token, size_t token_size, bool *full)
{
    int r;

    if (resp->status == 410 && token[0] && !*full) {
        log_info(1, "list continue token of %s expired, listing in full",
                 w->opt->key);
        *full = true;
        token[0] = '\0';
        return observer_list_begin(&w->observer) < 0 ? -1 : 1;
    }
    if (resp->status != 200) {
        watcher_http_trouble(w, resp, "list");
        return -1;
    }
    r = parse_page(w, resp, rv, token, token_size);
    if (r == -EBADMSG)
        watcher_retry(w, &w->backoff, -1, true, "malformed",
                      "list of %s: the response is not a usable list",
                      w->opt->key);
    if (r < 0)
        return -1;
    return token[0] ? 1 : 0;
}

/* Lists in pages; on success the watch starts from the list's version. */
void
watcher_list_pages(struct watcher *w)
{
    char path[PAGE_PATH_MAX], token[CONTINUE_TOKEN_MAX] = "";
    char rv[OBSERVER_RESOURCE_VERSION_MAX + 1];
    struct kube_response resp;
    bool full = false;
    int more = 1;

    if (observer_list_begin(&w->observer) < 0)
        w->output_error = -ENOMEM;
    while (!w->output_error && more > 0) {
        page_path(w, path, sizeof(path), token, full);
        if (!fetch_page(w, path, &resp))
            break;
        more = page_outcome(w, &resp, rv, token, sizeof(token), &full);
        kube_response_free(&resp);
    }
    if (more != 0 || w->output_error) {
        observer_list_abort(&w->observer);
        return;
    }
    if ((w->output_error = observer_list_end(&w->observer, rv)) < 0)
        return;
    watcher_list_done(w, rv);
}
