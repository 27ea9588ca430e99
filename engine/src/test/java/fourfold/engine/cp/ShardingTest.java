package fourfold.engine.cp;

import fourfold.engine.data.Documents;
import fourfold.engine.model.MicroBatch;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShardingTest {
    /** Two documents of 8 tokens in a row of 16 (Megatron PR #5243's packed case). */
    static final int[] TWO_DOCS = {0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 8, 8, 8, 8, 8, 8};

    @Test
    void headtailKeepsChunkIAndItsMirror() {
        SequenceSplit sp = Sharding.HEADTAIL.split(1, 16, TWO_DOCS, 2);
        assertArrayEquals(new int[] {0, 1, 2, 3, 12, 13, 14, 15}, sp.index()[0]);
        assertArrayEquals(new int[] {4, 5, 6, 7, 8, 9, 10, 11}, sp.index()[1]);
        // the positions rank 0's tokens have in the single-device run: [0..3] of doc 0 and [4..7] of doc 1
        Documents.Packing p = new Documents.Packing(TWO_DOCS, new int[] {0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7});
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, sp.take(p.position(), 0), "not [0,1,2,3,0,1,2,3] (Megatron #5243)");
        SequenceSplit pd = Sharding.PER_DOCUMENT.split(1, 16, TWO_DOCS, 2);
        assertArrayEquals(new int[] {0, 1, 6, 7, 8, 9, 14, 15}, pd.index()[0], "per-document: chunks 0 and 3 of each document");
        assertArrayEquals(new int[] {0, 1, 6, 7, 0, 1, 6, 7}, pd.take(p.position(), 0));
        SequenceSplit c = Sharding.CONTIGUOUS.split(1, 16, TWO_DOCS, 2);
        assertArrayEquals(new int[] {8, 9, 10, 11, 12, 13, 14, 15}, c.index()[1]);
    }

    @Test
    void everyRanksPositionsAreTheSingleDevicePositionsOfItsTokens() {
        Random rnd = new Random(3);
        int B = 3, T = 64;
        int[] inputs = new int[B * T];
        for (int i = 0; i < inputs.length; i++) inputs[i] = rnd.nextInt(6) == 0 ? '\n' : 'a' + rnd.nextInt(3); // many short documents
        Documents.Packing p = Documents.standard().pack(inputs, B, T);
        MicroBatch single = MicroBatch.packed(B, T, inputs, inputs, p);
        for (Sharding sh : Sharding.values()) {
            for (int cp : new int[] {2, 4}) {
                SequenceSplit sp = sh.split(B, T, p.doc(), cp);
                for (int r = 0; r < cp; r++) {
                    MicroBatch mb = MicroBatch.shard(inputs, inputs, p, sp, r);
                    int[] ix = sp.index()[r];
                    for (int i = 0; i < ix.length; i++) {
                        assertEquals(single.positions()[ix[i]], mb.positions()[i], sh + " cp=" + cp + " rank " + r + ": RoPE position of token " + ix[i]);
                        assertEquals(inputs[ix[i]], mb.inputs()[i], sh + ": the token travels with its position");
                        assertEquals(p.doc()[ix[i]], mb.mask().qDoc()[i], sh + ": and with its document");
                    }
                    for (int i = 1; i < ix.length; i++) assertTrue(ix[i - 1] < ix[i], "a rank's tokens are in sequence order");
                }
            }
        }
    }

    @Test
    void perDocumentRemaindersGoToRanksInTurn() {
        // 5 documents of 3 tokens, cp = 2: each gives its 3 tokens (< 2cp) one each to ranks in turn
        int[] doc = new int[15];
        for (int i = 0; i < 15; i++) doc[i] = i / 3 * 3;
        SequenceSplit sp = Sharding.PER_DOCUMENT.split(1, 15, doc, 2);
        // documents alternate 2+1 and 1+2 tokens, so the ranks hold 8 and 7 (uneven counts)
        assertEquals(8, sp.count(0), Arrays.toString(sp.index()[0]));
        assertEquals(7, sp.count(1), Arrays.toString(sp.index()[1]));
    }
}
