package fourfold.engine.model;

import fourfold.devices.Device;
import fourfold.engine.data.Documents;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Packed documents under --doc-mask give exactly the loss of each document run alone through the model. */
class DocumentMaskTest {
    static final LlamaConfig MODEL = LlamaConfig.of(256, 64, 2, 4, 2, 128, 64);

    @Test
    void packedSequenceLossIsTheSumOfItsDocumentsRunAlone() {
        String text = "First doc.\n\nA second, longer document here\n\nx\n\n\n\nlast one runs to the end of the row";
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int B = 2, T = 40;
        int[] inputs = new int[B * T], targets = new int[B * T];
        for (int i = 0; i < B * T; i++) { // two rows cut from the text, targets the next byte
            int at = i < T ? i : 30 + i - T;
            inputs[i] = bytes[at] & 0xFF;
            targets[i] = bytes[at + 1] & 0xFF;
        }
        try (Device dev = new Device(0, 64L << 20, 2); Llama model = Llama.singleDevice(MODEL, dev)) {
            model.initialize(7);
            Documents.Packing p = Documents.standard().pack(inputs, B, T);
            double packed = model.lossSum(MicroBatch.packed(B, T, inputs, targets, p));
            double alone = 0;
            int documents = 0;
            for (int start = 0; start < B * T; ) {
                int end = start + 1;
                while (end < B * T && p.doc()[end] == p.doc()[start]) end++;
                int n = end - start;
                alone += model.lossSum(MicroBatch.causal(1, n, Arrays.copyOfRange(inputs, start, end), Arrays.copyOfRange(targets, start, end)));
                documents++;
                start = end;
            }
            assertTrue(documents >= 6, "the rows hold several documents, got " + documents);
            double plain = model.lossSum(MicroBatch.causal(B, T, inputs, targets));
            assertEquals(alone, packed, 1e-5 * Math.abs(alone), "packed loss vs its " + documents + " documents one by one");
            assertTrue(Math.abs(plain - alone) > 1e-4 * Math.abs(alone), "without the mask the loss differs (the test can fail): " + plain + " vs " + alone);
        }
    }
}
