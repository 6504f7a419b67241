/*
 * libFuzzer target for the kubeconfig parser: any bytes go to libyaml and
 * the walk over clusters, users and contexts, base64 fields included.  It
 * must return an error or a parsed file, never crash or leak; it reads no
 * file, so inputs naming paths are harmless.
 */
#include <stddef.h>
#include <stdint.h>

#include "kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kubeconfig_file *file = NULL;
    char err[512];

    if (kubeconfig_parse((const char *)data, size, "/fuzz/kubeconfig", &file,
                         err, sizeof(err)) == 0)
        kubeconfig_file_free(file);
    return 0;
}
