package fourfold.engine.kernels;

import fourfold.devices.Axis;
import fourfold.devices.Cluster;
import fourfold.devices.ClusterConfig;
import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.devices.Mesh;
import fourfold.engine.cp.Algorithm;
import fourfold.engine.cp.ContextParallel;
import fourfold.engine.cp.ContextShard;
import fourfold.engine.cp.SequenceSplit;
import fourfold.engine.cp.Sharding;
import fourfold.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.Random;

import static fourfold.engine.kernels.AttentionTest.assertClose;
import static fourfold.engine.kernels.AttentionTest.gaussian;
import static fourfold.engine.kernels.AttentionTest.range;
import static fourfold.engine.kernels.AttentionTest.toDouble;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Context-parallel attention (local queries against all-gathered keys, or ring blocks merged by
 * log-sum-exp) equals full attention of the whole sequence, forward and backward, against the
 * double-precision reference, with packed documents and every sharding.
 */
class ContextParallelAttentionTest {
    static final int B = 2, T = 48, NH = 4, NKV = 2, HS = 16;

    /** Two rows of packed documents of uneven lengths (some shorter than 2·cp). */
    static int[] documents() {
        int[][] lengths = {{5, 20, 3, 20}, {30, 1, 17}};
        int[] doc = new int[B * T];
        for (int b = 0; b < B; b++) {
            int t = 0;
            for (int len : lengths[b]) {
                int start = t;
                for (int i = 0; i < len; i++) doc[b * T + t++] = b * T + start;
            }
        }
        return doc;
    }

    static int[] rowsAsDocuments() {
        int[] doc = new int[B * T];
        for (int i = 0; i < doc.length; i++) doc[i] = i / T * T;
        return doc;
    }

    /** What rank r computed, in its local layout. */
    record Local(float[] out, float[] lse, float[] dq, float[] dk, float[] dv) {}

    static float[] rows(float[] full, int[] index, int width) {
        float[] out = new float[index.length * width];
        for (int i = 0; i < index.length; i++) System.arraycopy(full, index[i] * width, out, i * width, width);
        return out;
    }

    @ParameterizedTest(name = "{0} {1} cp={2} documents={3}")
    @CsvSource({
            "ALLGATHER,HEADTAIL,2,false", "RING,HEADTAIL,2,false", "ALLGATHER,CONTIGUOUS,4,false", "RING,CONTIGUOUS,4,false",
            "ALLGATHER,HEADTAIL,4,true", "RING,HEADTAIL,4,true", "ALLGATHER,PER_DOCUMENT,4,true", "RING,PER_DOCUMENT,4,true",
            "RING,PER_DOCUMENT,2,true", "RING,CONTIGUOUS,2,true"})
    void equalsFullAttention(Algorithm algorithm, Sharding sharding, int cp, boolean docs) {
        int[] doc = docs ? documents() : rowsAsDocuments();
        SequenceSplit split = sharding.split(B, T, doc, cp);
        Random rnd = new Random(31 + cp);
        int wq = NH * HS, wk = NKV * HS;
        float[] q = gaussian(rnd, B * T * wq), k = gaussian(rnd, B * T * wk), v = gaussian(rnd, B * T * wk), dout = gaussian(rnd, B * T * wq);
        try (Cluster cluster = new Cluster(new Mesh(1, 1, cp, 1), ClusterConfig.defaults().withMemoryPerDevice(32L << 20).withThreadsPerDevice(1))) {
            List<Local> locals = cluster.run(rank -> {
                int r = rank.rank(), n = split.count(r);
                int[] ix = split.index()[r];
                Device dev = rank.device();
                ContextParallel cpHandle = ContextParallel.of(rank.group(Axis.CP), algorithm);
                AttentionShape s = new AttentionShape(1, n, n, NH, NKV, HS);
                AttentionMask mask = split.mask(r, r);
                ContextShard shard = new ContextShard(split, r);
                Tensor tq = Tensor.of(dev, MemoryTag.ACTIVATIONS, "q", rows(q, ix, wq), 1, n, NH, HS);
                Tensor tk = Tensor.of(dev, MemoryTag.ACTIVATIONS, "k", rows(k, ix, wk), 1, n, NKV, HS);
                Tensor tv = Tensor.of(dev, MemoryTag.ACTIVATIONS, "v", rows(v, ix, wk), 1, n, NKV, HS);
                Tensor y = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "y", 1, n, NH, HS);
                Tensor lse = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "lse", 1, NH, n);
                Tensor dy = Tensor.of(dev, MemoryTag.ACTIVATIONS, "dy", rows(dout, ix, wq), 1, n, NH, HS);
                Tensor dq = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "dq", 1, n, NH, HS);
                Tensor dk = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "dk", 1, n, NKV, HS);
                Tensor dv = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "dv", 1, n, NKV, HS);
                try (ContextParallel.Kept kept = cpHandle.forward(tq, tk, tv, y, lse, s, mask, shard)) {
                    cpHandle.backward(dy, tq, tk, tv, y, lse, dq, dk, dv, s, mask, shard, kept);
                }
                return new Local(y.toArray(), lse.toArray(), dq.toArray(), dk.toArray(), dv.toArray());
            });
            AttentionShape full = new AttentionShape(B, T, T, NH, NKV, HS);
            AttentionTest.Reference ref = new AttentionTest.Reference(full, new AttentionMask(range(0, T), range(0, T), doc, doc),
                    toDouble(q), toDouble(k), toDouble(v));
            double[][] g = ref.backward(toDouble(dout));
            String what = algorithm + " " + sharding + " cp=" + cp + (docs ? " documents" : "");
            for (int r = 0; r < cp; r++) {
                int[] ix = split.index()[r];
                int n = ix.length;
                Local l = locals.get(r);
                double[] lse = new double[NH * n];
                for (int h = 0; h < NH; h++) for (int i = 0; i < n; i++) lse[h * n + i] = ref.lse[(ix[i] / T * NH + h) * T + ix[i] % T];
                assertClose(what + " rank " + r + " out", pick(ref.out, ix, wq), l.out(), 1e-5);
                assertClose(what + " rank " + r + " lse", lse, l.lse(), 1e-5);
                assertClose(what + " rank " + r + " dq", pick(g[0], ix, wq), l.dq(), 2e-5);
                assertClose(what + " rank " + r + " dk", pick(g[1], ix, wk), l.dk(), 2e-5);
                assertClose(what + " rank " + r + " dv", pick(g[2], ix, wk), l.dv(), 2e-5);
            }
        }
    }

    static double[] pick(double[] full, int[] index, int width) {
        double[] out = new double[index.length * width];
        for (int i = 0; i < index.length; i++) System.arraycopy(full, index[i] * width, out, i * width, width);
        return out;
    }

    @Test
    void mergingTwoKeyBlocksByLogSumExpGivesAttentionOverBoth() {
        // 20 queries at positions 30..49 against keys 0..49, split into keys 0..29 and 30..49
        AttentionShape s = new AttentionShape(2, 20, 50, 4, 2, 16);
        AttentionShape sa = new AttentionShape(2, 20, 30, 4, 2, 16), sb = new AttentionShape(2, 20, 20, 4, 2, 16);
        Random rnd = new Random(5);
        float[] q = gaussian(rnd, 2 * 20 * 64), k = gaussian(rnd, 2 * 50 * 32), v = gaussian(rnd, 2 * 50 * 32);
        int[] qPos = range(30, 50);
        try (Device dev = new Device(0, 16L << 20, 2)) {
            Tensor tq = Tensor.of(dev, MemoryTag.ACTIVATIONS, "q", q, 2, 20, 4, 16);
            Tensor ka = keysOf(dev, k, 0, 30), va = keysOf(dev, v, 0, 30), kb = keysOf(dev, k, 30, 20), vb = keysOf(dev, v, 30, 20);
            Tensor out = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "out", 2, 20, 4, 16), lse = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "lse", 2, 4, 20);
            Tensor outB = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "outB", 2, 20, 4, 16), lseB = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "lseB", 2, 4, 20);
            Attention.forward(tq, ka, va, out, lse, sa, new AttentionMask(qPos, range(0, 30), null, null));
            Attention.forward(tq, kb, vb, outB, lseB, sb, new AttentionMask(qPos, range(30, 50), null, null));
            AttentionMerge.merge(out, lse, outB, lseB, new AttentionShape(2, 20, 20, 4, 2, 16));
            AttentionTest.Reference ref = new AttentionTest.Reference(s, new AttentionMask(qPos, range(0, 50), null, null), toDouble(q), toDouble(k), toDouble(v));
            assertClose("merged out", ref.out, out.toArray(), 1e-5);
            assertClose("merged lse", ref.lse, lse.toArray(), 1e-5);
            // a side that saw nothing (lse = -inf) leaves the other unchanged
            float[] before = out.toArray(), lseBefore = lse.toArray();
            lseB.fill(Float.NEGATIVE_INFINITY);
            outB.fill(0f);
            AttentionMerge.merge(out, lse, outB, lseB, new AttentionShape(2, 20, 20, 4, 2, 16));
            org.junit.jupiter.api.Assertions.assertArrayEquals(before, out.toArray(), "merge with an empty block: out unchanged");
            org.junit.jupiter.api.Assertions.assertArrayEquals(lseBefore, lse.toArray(), "merge with an empty block: lse unchanged");
        }
    }

    /** Keys [j0, j0+n) of each of the 2 rows of a (2, 50, 2, 16) array. */
    private static Tensor keysOf(Device dev, float[] k, int j0, int n) {
        float[] part = new float[2 * n * 32];
        for (int b = 0; b < 2; b++) System.arraycopy(k, (b * 50 + j0) * 32, part, b * n * 32, n * 32);
        return Tensor.of(dev, MemoryTag.ACTIVATIONS, "k", part, 2, n, 2, 16);
    }

    @Test
    void splitsPartitionTheTokens() {
        for (Sharding sh : Sharding.values()) {
            SequenceSplit sp = sh.split(B, T, documents(), 4);
            boolean[] seen = new boolean[B * T];
            int total = 0;
            for (int[] ix : sp.index()) for (int i : ix) {
                assertEquals(false, seen[i], sh + ": token " + i + " on two ranks");
                seen[i] = true;
                total++;
            }
            assertEquals(B * T, total, sh + ": every token on some rank");
        }
    }
}
