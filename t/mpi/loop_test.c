/* loop_test.c - the event loop (src/exec/loop.h) as a library, with no
 * planner or actor: t1005-loop.t starts it under mpirun and checks what
 * it prints (rank 0, one "key=value" line per check).
 *
 *   loop_test api       registration refused and accepted, a two-part
 *                       message to this rank itself handled at once, poll
 *                       hooks in order, wn_loop_leave's status
 *   loop_test order     every other rank sends rank 0 a run of messages
 *                       in one poll (so they travel as a bundle): rank 0
 *                       checks that each sender's arrive whole and in order
 *   loop_test unknown   rank 1 sends rank 0 a tag nobody registered: the
 *                       job ends, saying which tag and which sender
 */
#define _GNU_SOURCE
#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/loop.h"
#include "exec/store.h"

#define TAG_A 101
#define TAG_B 102
#define TAG_LEAVE 103
#define TAG_NOBODY 120
#define NMSG 200

static int rank, size;

static const char *errname(int rc)
{
    return rc == 0 ? "0" : errno == EEXIST ? "EEXIST" : errno == EINVAL ? "EINVAL" : "other";
}

static char self_got[64];

static void on_a(struct wn_loop *loop, int src, void *buf, size_t len, void *arg)
{
    (void)loop;
    (void)arg;
    snprintf(self_got, sizeof(self_got), "%d:%.*s", src, (int)len, (const char *)buf);
}

static void on_b(struct wn_loop *loop, int src, void *buf, size_t len, void *arg)
{
    (void)loop;
    (void)src;
    (void)buf;
    (void)len;
    (void)arg;
}

static char hook_trace[64];
static int hook_polls;

static int hook_first(struct wn_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    size_t n = strlen(hook_trace);
    if (n + 2 < sizeof(hook_trace))
        strcat(hook_trace, "1");
    return 0;
}

static int hook_second(struct wn_loop *loop, void *arg)
{
    (void)arg;
    size_t n = strlen(hook_trace);
    if (n + 2 < sizeof(hook_trace))
        strcat(hook_trace, "2");
    if (++hook_polls == 3)
        wn_loop_leave(loop, 7);
    return 1;
}

static int api(struct wn_loop *loop)
{
    static const struct wn_loop_handler one[] = {{TAG_A, on_a}, WN_LOOP_HANDLER_END};
    static const struct wn_loop_handler own[] = {{WN_LOOP_TAG_BUNDLE, on_b}, WN_LOOP_HANDLER_END};
    static const struct wn_loop_handler big[] = {{WN_LOOP_MAX_TAG, on_b}, WN_LOOP_HANDLER_END};
    static const struct wn_loop_handler dup[] = {{TAG_B, on_b}, {TAG_B, on_b}, WN_LOOP_HANDLER_END};
    static const struct wn_loop_handler b[] = {{TAG_B, on_b}, WN_LOOP_HANDLER_END};
    printf("register=%s\n", errname(wn_loop_handlers_add(loop, one, NULL)));
    printf("again=%s\n", errname(wn_loop_handlers_add(loop, one, NULL)));
    printf("own_tag=%s\n", errname(wn_loop_handlers_add(loop, own, NULL)));
    printf("out_of_range=%s\n", errname(wn_loop_handlers_add(loop, big, NULL)));
    printf("dup_in_table=%s\n", errname(wn_loop_handlers_add(loop, dup, NULL)));
    printf("after_refused_table=%s\n", errname(wn_loop_handlers_add(loop, b, NULL)));
    wn_loop_send(loop, rank, TAG_A, "hello", 5, "+world", 6);
    printf("self=%s\n", self_got);
    wn_loop_poll_add(loop, hook_first, NULL);
    wn_loop_poll_add(loop, hook_second, NULL);
    int status = wn_loop_run(loop);
    printf("hooks=%s status=%d\n", hook_trace, status);
    return 0;
}

static int *next_from; /* rank 0: the next index expected per sender */
static int order_bad, received;

static void on_seq(struct wn_loop *loop, int src, void *buf, size_t len, void *arg)
{
    (void)arg;
    int v[2];
    if (len != sizeof(v)) {
        order_bad++;
        return;
    }
    memcpy(v, buf, sizeof(v));
    if (v[0] != src || v[1] != next_from[src])
        order_bad++;
    next_from[src] = v[1] + 1;
    if (++received == NMSG * (size - 1))
        for (int r = 1; r < size; r++)
            wn_loop_send(loop, r, TAG_LEAVE, NULL, 0, NULL, 0);
    if (received == NMSG * (size - 1))
        wn_loop_leave(loop, 0);
}

static void on_leave(struct wn_loop *loop, int src, void *buf, size_t len, void *arg)
{
    (void)src;
    (void)buf;
    (void)len;
    (void)arg;
    wn_loop_leave(loop, 0);
}

static int sent;

static int send_all(struct wn_loop *loop, void *arg)
{
    (void)arg;
    if (sent)
        return 0;
    sent = 1;
    for (int i = 0; i < NMSG; i++) {
        int v[2] = {rank, i};
        wn_loop_send(loop, 0, TAG_A, v, sizeof(v), NULL, 0);
    }
    return 1;
}

static int order(struct wn_loop *loop)
{
    static const struct wn_loop_handler at0[] = {{TAG_A, on_seq}, WN_LOOP_HANDLER_END};
    static const struct wn_loop_handler others[] = {{TAG_LEAVE, on_leave}, WN_LOOP_HANDLER_END};
    next_from = calloc((size_t)size, sizeof(*next_from));
    if (!next_from)
        return 1;
    if (rank == 0)
        wn_loop_handlers_add(loop, at0, NULL);
    else if (wn_loop_handlers_add(loop, others, NULL) < 0 ||
             wn_loop_poll_add(loop, send_all, NULL) < 0)
        return 1;
    wn_loop_run(loop);
    if (rank == 0)
        printf("order=%s received=%d\n", order_bad ? "bad" : "ok", received);
    free(next_from);
    return 0;
}

static int unknown(struct wn_loop *loop)
{
    if (rank == 1)
        wn_loop_send(loop, 0, TAG_NOBODY, "?", 1, NULL, 0);
    for (;;)
        wn_loop_poll(loop);
    return 0;
}

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *mode = argc > 1 ? argv[1] : "";
    wn_error_t err = {{0}};
    struct wn_store *store = wn_store_create();
    struct wn_loop *loop = store ? wn_loop_create(MPI_COMM_WORLD, store, 300, &err) : NULL;
    if (!loop) {
        fprintf(stderr, "loop_test: %s\n", err.text[0] ? err.text : "out of memory");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int rc = !strcmp(mode, "api")       ? api(loop)
             : !strcmp(mode, "order")   ? order(loop)
             : !strcmp(mode, "unknown") ? unknown(loop)
                                        : 2;
    fflush(stdout);
    MPI_Barrier(MPI_COMM_WORLD);
    wn_loop_destroy(loop);
    wn_store_destroy(store);
    MPI_Finalize();
    return rc;
}
