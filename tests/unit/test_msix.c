/* test_msix.c: the MSI-X state model; unit and property tests (vfio-property-tests.md section 5,
 * and the vector-count edges of section 8). */
#include "check.h"
#include "msix.h"

static struct msix_state st; /* big (2048 vectors): keep it off the stack */

TEST(transitions)
{
	struct err e = { 0 };
	int fd = -1;

	REQUIRE(msix_state_init(&st, 5, &e) == 0);
	CHECK_EQ_I(msix_vec_enable(&st, 0, &e), -ENOENT);
	CHECK(strstr(e.msg, "not configured") != NULL);
	CHECK_EQ_I(msix_vec_configure(&st, 0, 7, 0xfee00000, 0x4021, &e), 0);
	CHECK_EQ_I(msix_vec_configure(&st, 0, 8, 0xfee00000, 0x4022, &e), 0); /* reconfigure: ok */
	CHECK_EQ_I(msix_vec_enable(&st, 0, &e), 0);
	CHECK_EQ_I(msix_vec_enable(&st, 0, &e), -EALREADY);
	CHECK_EQ_I(msix_vec_configure(&st, 0, 9, 0, 0, &e), -EBUSY);
	CHECK_EQ_I(msix_vec_configure(&st, 5, 9, 0, 0, &e), -ERANGE);
	CHECK(strstr(e.msg, "vector 5: the table has 5 vectors (0..4)") != NULL);
	CHECK_EQ_I(msix_vec_configure(&st, 1, -1, 0, 0, &e), -EINVAL);
	CHECK_EQ_U(st.nconfigured, 1);
	CHECK_EQ_U(st.nenabled, 1);
	CHECK(!msix_can_deliver(&st, 0));
	msix_set_enable(&st, true);
	CHECK(msix_can_deliver(&st, 0));
	msix_set_function_mask(&st, true);
	CHECK(!msix_can_deliver(&st, 0));
	msix_set_function_mask(&st, false);
	CHECK_EQ_I(msix_vec_mask(&st, 0, true, &e), 0);
	CHECK(!msix_can_deliver(&st, 0));
	CHECK_EQ_I(msix_vec_mask(&st, 0, false, &e), 0);
	CHECK(msix_can_deliver(&st, 0));
	CHECK(!msix_can_deliver(&st, 4096));
	CHECK_EQ_I(msix_vec_disable(&st, 0, &fd, &e), 0);
	CHECK_EQ_I(fd, 8);
	CHECK_EQ_I(msix_vec_disable(&st, 0, &fd, &e), -ENOENT);
	CHECK_EQ_U(st.nconfigured, 0);
	CHECK_EQ_I(msix_state_check(&st, &e), 0);
}

/* Section 8: one vector and 2048 vectors work; 0 and 2049 do not. */
TEST(edge_vector_counts)
{
	struct err e = { 0 };

	CHECK_EQ_I(msix_state_init(&st, 0, &e), -EINVAL);
	CHECK_EQ_I(msix_state_init(&st, 2049, &e), -EINVAL);
	REQUIRE(msix_state_init(&st, 1, &e) == 0);
	CHECK_EQ_I(msix_vec_configure(&st, 0, 3, 0, 0, &e), 0);
	CHECK_EQ_I(msix_vec_enable(&st, 0, &e), 0);
	CHECK_EQ_I(msix_vec_configure(&st, 1, 3, 0, 0, &e), -ERANGE);
	REQUIRE(msix_state_init(&st, 2048, &e) == 0);
	for (uint32_t i = 0; i < 2048; i++) {
		CHECK_EQ_I(msix_vec_configure(&st, i, (int)i + 3, 0, i, &e), 0);
		CHECK_EQ_I(msix_vec_enable(&st, i, &e), 0);
	}
	CHECK_EQ_I(msix_vec_enable(&st, 2048, &e), -ERANGE);
	CHECK_EQ_U(st.nenabled, 2048);
	CHECK_EQ_I(msix_state_check(&st, &e), 0);
}

/*
 * Section 5: random operations on random tables against a reference model of the states. Every
 * operation succeeds or fails exactly as the model says (valid transitions only; no enable of an
 * unconfigured vector; no reconfiguration of an enabled one; out-of-range indexes fail), a
 * refused operation changes nothing, disable hands back the eventfd last configured,
 * enabled <= configured <= table size always, and can_deliver is exactly the conjunction.
 */
TEST(prop_msix_state_machine)
{
	static enum msix_vec_state model[MSIX_MAX_VECTORS];
	static int model_fd[MSIX_MAX_VECTORS];
	static bool model_mask[MSIX_MAX_VECTORS];
	struct prop_rng r = { prop_seed("prop_msix_state_machine") };
	uint64_t cases = prop_cases(10000);

	for (uint64_t c = 0; c < cases; c++) {
		uint32_t size = prop_below(&r, 8) ? 1 + (uint32_t)prop_below(&r, 16)
						  : 1 + (uint32_t)prop_below(&r, MSIX_MAX_VECTORS);
		unsigned steps = 1 + (unsigned)prop_below(&r, 60);
		bool fn_en = false, fn_mask = false;
		struct err e = { 0 };

		if (msix_state_init(&st, size, &e)) {
			CHECK_FAIL_AT("init %u: %s", size, e.msg);
			return;
		}
		for (uint32_t i = 0; i < size; i++) {
			model[i] = MSIX_VEC_UNCONFIGURED;
			model_fd[i] = -1;
			model_mask[i] = false;
		}
		for (unsigned s = 0; s < steps; s++) {
			/* Mostly valid indexes, sometimes just past the end or far out. */
			uint32_t idx = prop_below(&r, 8)   ? (uint32_t)prop_below(&r, size)
				       : prop_below(&r, 2) ? size + (uint32_t)prop_below(&r, 3)
							   : (uint32_t)prop_next(&r);
			bool valid = idx < size;
			unsigned op = (unsigned)prop_below(&r, 7);
			int fd = 100 + (int)prop_below(&r, 1000), got = -7, rc, want = 0;
			uint32_t nc = st.nconfigured, ne = st.nenabled;

			switch (op) {
			case 0: /* configure */
				want = !valid				? -ERANGE
				       : model[idx] == MSIX_VEC_ENABLED ? -EBUSY
									: 0;
				rc = msix_vec_configure(&st, idx, fd, 0xfee00000, idx, &e);
				if (!rc) {
					model[idx] = MSIX_VEC_CONFIGURED;
					model_fd[idx] = fd;
				}
				break;
			case 1: /* enable */
				want = !valid				     ? -ERANGE
				       : model[idx] == MSIX_VEC_UNCONFIGURED ? -ENOENT
				       : model[idx] == MSIX_VEC_ENABLED	     ? -EALREADY
									     : 0;
				rc = msix_vec_enable(&st, idx, &e);
				if (!rc)
					model[idx] = MSIX_VEC_ENABLED;
				break;
			case 2: /* disable */
				want = !valid				     ? -ERANGE
				       : model[idx] == MSIX_VEC_UNCONFIGURED ? -ENOENT
									     : 0;
				rc = msix_vec_disable(&st, idx, &got, &e);
				if (!rc) {
					if (got != model_fd[idx]) {
						CHECK_FAIL_AT("case %" PRIu64
							      ": disable %u gave fd %d, "
							      "configured %d",
							      c, idx, got, model_fd[idx]);
						return;
					}
					model[idx] = MSIX_VEC_UNCONFIGURED;
					model_fd[idx] = -1;
				} else if (got != -7) {
					CHECK_FAIL_AT("case %" PRIu64 ": failed disable wrote fd",
						      c);
					return;
				}
				break;
			case 3: /* mask / unmask */
				want = valid ? 0 : -ERANGE;
				rc = msix_vec_mask(&st, idx, prop_below(&r, 2), &e);
				if (!rc)
					model_mask[idx] = st.vec[idx].masked;
				break;
			case 4:
				fn_en = prop_below(&r, 2);
				msix_set_enable(&st, fn_en);
				rc = 0;
				break;
			case 5:
				fn_mask = prop_below(&r, 4) == 0;
				msix_set_function_mask(&st, fn_mask);
				rc = 0;
				break;
			default: { /* delivery */
				bool expect = valid && fn_en && !fn_mask &&
					      model[idx] == MSIX_VEC_ENABLED && !model_mask[idx];

				rc = 0;
				if (msix_can_deliver(&st, idx) != expect) {
					CHECK_FAIL_AT("case %" PRIu64 ": can_deliver(%u) != %d", c,
						      idx, expect);
					return;
				}
			}
			}
			if (rc != want) {
				CHECK_FAIL_AT("case %" PRIu64
					      " step %u: op %u on %u (table %u): %d, "
					      "model %d (%s)",
					      c, s, op, idx, size, rc, want, e.msg);
				return;
			}
			if (rc && (st.nconfigured != nc || st.nenabled != ne)) {
				CHECK_FAIL_AT("case %" PRIu64 ": refused op changed the counts", c);
				return;
			}
			for (uint32_t i = 0; i < size; i++)
				if (st.vec[i].state != model[i] ||
				    st.vec[i].eventfd != model_fd[i]) {
					CHECK_FAIL_AT("case %" PRIu64 ": vector %u is %s, model %s",
						      c, i, msix_vec_state_name(st.vec[i].state),
						      msix_vec_state_name(model[i]));
					return;
				}
			if (msix_state_check(&st, &e) ||
			    !(st.nenabled <= st.nconfigured && st.nconfigured <= st.table_size)) {
				CHECK_FAIL_AT("case %" PRIu64 ": %s", c, e.msg);
				return;
			}
		}
	}
}

/* Section 5 (integration): several vectors coexist; disabling one leaves the others intact. */
TEST(prop_msix_vectors_independent)
{
	struct prop_rng r = { prop_seed("prop_msix_vectors_independent") };
	uint64_t cases = prop_cases(10000);

	for (uint64_t c = 0; c < cases; c++) {
		uint32_t size = 2 + (uint32_t)prop_below(&r, 63), victim;
		struct err e = { 0 };
		bool ok = true;
		int fd = -1;

		ok &= msix_state_init(&st, size, &e) == 0;
		msix_set_enable(&st, true);
		for (uint32_t i = 0; i < size; i++) {
			ok &= msix_vec_configure(&st, i, 1000 + (int)i, 0xfee00000 + i, i, &e) == 0;
			ok &= msix_vec_enable(&st, i, &e) == 0;
		}
		victim = (uint32_t)prop_below(&r, size);
		ok &= msix_vec_disable(&st, victim, &fd, &e) == 0 && fd == 1000 + (int)victim;
		for (uint32_t i = 0; i < size; i++)
			ok &= msix_can_deliver(&st, i) == (i != victim) &&
			      (i == victim ||
			       (st.vec[i].eventfd == 1000 + (int)i && st.vec[i].data == i));
		ok &= st.nenabled == size - 1 && st.nconfigured == size - 1;
		if (!ok) {
			CHECK_FAIL_AT("case %" PRIu64 ": size %u victim %u (%s)", c, size, victim,
				      e.msg);
			return;
		}
	}
}

int main(void)
{
	RUN(transitions);
	RUN(edge_vector_counts);
	RUN(prop_msix_state_machine);
	RUN(prop_msix_vectors_independent);
	return CHECK_MAIN_END();
}
