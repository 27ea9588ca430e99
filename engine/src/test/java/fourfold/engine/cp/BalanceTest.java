package fourfold.engine.cp;

import fourfold.devices.Device;
import fourfold.devices.MemoryTag;
import fourfold.engine.data.Batch;
import fourfold.engine.data.BatchSampler;
import fourfold.engine.data.Documents;
import fourfold.engine.data.TextDataset;
import fourfold.engine.kernels.Attention;
import fourfold.engine.kernels.AttentionShape;
import fourfold.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Attention work per cp rank, as the kernel counts it (4·hs flops per visible query-key pair), max
 * over mean: head-tail balances causal attention, per-document sharding balances packed documents
 * (WLB-LLM's imbalance of head-tail sharding with documents).
 */
class BalanceTest {
    static final int B = 4, T = 1024, HS = 8;

    /** Forward flops the attention kernel records for each rank's queries against the whole sequence. */
    static double[] flopsPerRank(SequenceSplit sp) {
        int N = sp.tokens();
        double[] flops = new double[sp.ranks()];
        try (Device dev = new Device(0, 64L << 20, 1)) {
            double[] last = new double[1];
            dev.setKernelListener((d, name, start, sec, f, bytes) -> {
                if (name.equals("attention_fwd")) last[0] = f;
            });
            try (Tensor k = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "k", 1, N, 1, HS); Tensor v = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "v", 1, N, 1, HS)) {
                for (int r = 0; r < sp.ranks(); r++) {
                    int n = sp.count(r);
                    try (Tensor q = Tensor.zeros(dev, MemoryTag.ACTIVATIONS, "q", 1, n, 1, HS);
                         Tensor y = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "y", 1, n, 1, HS);
                         Tensor lse = Tensor.empty(dev, MemoryTag.ACTIVATIONS, "lse", 1, 1, n)) {
                        Attention.forward(q, k, v, y, lse, new AttentionShape(1, n, N, 1, 1, HS), sp.gatheredMask(r));
                        flops[r] = last[0];
                    }
                }
            }
        }
        return flops;
    }

    static double imbalance(double[] f) {
        double max = 0, sum = 0;
        for (double x : f) {
            max = Math.max(max, x);
            sum += x;
        }
        return max / (sum / f.length);
    }

    @Test
    void headTailBalancesCausalAttention() {
        int[] rows = Documents.rows(B, T).doc();
        StringBuilder table = new StringBuilder("| causal, B=" + B + " T=" + T + " | cp | headtail max/mean | contiguous max/mean |\n|---|---|---|---|\n");
        for (int cp : new int[] {2, 4}) {
            double ht = imbalance(flopsPerRank(Sharding.HEADTAIL.split(B, T, rows, cp)));
            double ct = imbalance(flopsPerRank(Sharding.CONTIGUOUS.split(B, T, rows, cp)));
            table.append(String.format(Locale.ROOT, "| | %d | %.4f | %.4f |%n", cp, ht, ct));
            assertTrue(ht <= 1.05, "headtail cp=" + cp + ": attention flops max/mean " + ht + " should be <= 1.05");
            assertTrue(ct > ht, "contiguous cp=" + cp + " is less balanced (" + ct + ") than headtail (" + ht + ")");
        }
        System.out.print(table);
    }

    @Test
    void perDocumentShardingBalancesPackedDocuments() {
        TextDataset data = TextDataset.loadOrEmbedded(null);
        Batch batch = BatchSampler.sequential(data.train(), B, T).batch(3);
        int[] doc = Documents.standard().pack(batch.inputs(), B, T).doc();
        StringBuilder table = new StringBuilder("| embedded corpus, --doc-mask, B=" + B + " T=" + T + " | cp | headtail max/mean | per-document max/mean |\n|---|---|---|---|\n");
        for (int cp : new int[] {2, 4}) {
            double ht = imbalance(flopsPerRank(Sharding.HEADTAIL.split(B, T, doc, cp)));
            double pd = imbalance(flopsPerRank(Sharding.PER_DOCUMENT.split(B, T, doc, cp)));
            table.append(String.format(Locale.ROOT, "| | %d | %.4f | %.4f |%n", cp, ht, pd));
            assertTrue(pd <= 1.10, "per-document cp=" + cp + ": attention flops max/mean " + pd + " should be <= 1.10");
        }
        System.out.print(table);
    }
}
