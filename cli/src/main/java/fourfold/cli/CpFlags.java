package fourfold.cli;

import fourfold.engine.UserError;
import fourfold.engine.cp.Algorithm;
import fourfold.engine.cp.Sharding;
import fourfold.engine.data.Documents;

/** The context-parallel and document flags shared by train and eval. */
final class CpFlags {
    private CpFlags() {}

    static Algorithm algorithm(String s) {
        Algorithm a = Algorithm.parse(s);
        if (a == null) throw new UserError("unknown --cp-algo '" + s + "'; use allgather or ring");
        return a;
    }

    static Sharding sharding(String s) {
        Sharding m = Sharding.parse(s);
        if (m == null) throw new UserError("unknown --cp-shard '" + s + "'; use headtail, per-document or contiguous");
        return m;
    }

    /** --doc-mask [--doc-delimiter TEXT] as packed documents, or null without --doc-mask. */
    static Documents documents(boolean docMask, String delimiter) {
        if (!docMask) {
            if (delimiter != null) throw new UserError("--doc-delimiter needs --doc-mask; add --doc-mask");
            return null;
        }
        return delimiter == null ? Documents.standard() : Documents.fromEscaped(delimiter);
    }
}
