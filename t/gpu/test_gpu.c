/* test_gpu.c - GPU tier: the device-side reduction on the bound GPU.
 * Skips (with the reason) where there is no usable GPU; CI has none. */
#include <stdint.h>
#include <stdlib.h>

#include "gpu/gpu.h"
#include "tap.h"

int main(void)
{
    int n = wn_gpu_device_count();
    if (n <= 0) {
        char why[300];
        snprintf(why, sizeof(why), "no GPU: %s", wn_gpu_unavailable_reason());
        skip_all(why);
    }
    plan(NO_PLAN);
    char name[128];
    size_t mem = 0;
    wn_error_t err = {{0}};
    /* The call first: ok()'s arguments are evaluated in no set order. */
    int drc = wn_gpu_describe(0, name, sizeof(name), &mem, &err);
    ok(drc == 0 && mem > 0, "device 0: %s, %zu MiB", drc == 0 ? name : err.text, mem >> 20);

    size_t counts[] = {0, 1, 255, 256, 257, 1000003, 1u << 24};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        size_t len = counts[c];
        uint64_t *v = malloc((len ? len : 1) * sizeof(*v)), want = 0, got = 0;
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17; /* wraps like the GPU */
            v[i] = x;
            want += x;
        }
        for (int d = 0; d < n; d++) {
            int rc = wn_gpu_sum_u64(d, v, len, &got, &err);
            ok(rc == 0 && got == want, "device %d sums %zu values like the CPU%s%s", d, len,
               rc ? ": " : "", rc ? err.text : "");
        }
        free(v);
    }
    ok(wn_gpu_sum_u64(n, NULL, 0, NULL, &err) < 0, "a device that does not exist fails cleanly: %s",
       err.text);
    return done_testing();
}
