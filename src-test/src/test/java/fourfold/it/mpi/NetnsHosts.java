package fourfold.it.mpi;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Two hosts on this machine: two network namespaces joined by a veth pair, each with its own
 * address. mpirun runs in the first; it starts the processes of the second through its rsh agent,
 * which is {@code ip netns exec} instead of ssh, and the two sides reach each other over TCP only
 * (Open MPI sees two nodes, so no shared-memory transport between them). Needs root (CAP_NET_ADMIN).
 */
final class NetnsHosts implements AutoCloseable {
    private final String[] names;
    private final String[] addresses;
    private final String subnet;
    private final Path hostfile;
    private final Path agent;
    private final Path launches;

    private NetnsHosts(Path dir) throws IOException {
        long id = ProcessHandle.current().pid() % 100_000; // unique per JVM, so runs side by side do not collide
        names = new String[] {"ff" + id + "a", "ff" + id + "b"};
        int octet = (int) (id % 250) + 1;
        subnet = "10.213." + octet + ".0/24";
        addresses = new String[] {"10.213." + octet + ".1", "10.213." + octet + ".2"};
        for (String ns : names) {
            ip("netns", "add", ns);
            ip("-n", ns, "link", "set", "lo", "up");
        }
        ip("link", "add", names[0], "type", "veth", "peer", "name", names[1]);
        for (int h = 0; h < 2; h++) {
            ip("link", "set", names[h], "netns", names[h]);
            ip("-n", names[h], "addr", "add", addresses[h] + "/24", "dev", names[h]);
            ip("-n", names[h], "link", "set", names[h], "up");
        }
        hostfile = dir.resolve("hostfile");
        Files.writeString(hostfile, addresses[0] + " slots=8\n" + addresses[1] + " slots=8\n");
        agent = dir.resolve("netns-agent.sh");
        launches = dir.resolve("netns-launches.txt");
        Files.writeString(agent, "#!/bin/sh\n# Open MPI's rsh agent: HOST COMMAND... runs COMMAND in the namespace of HOST, as ssh would on it\n"
                + "case \"$1\" in " + addresses[0] + ") ns=" + names[0] + " ;; " + addresses[1] + ") ns=" + names[1]
                + " ;; *) echo \"unknown host $1\" >&2; exit 1 ;; esac\necho \"$ns\" >> " + launches + "\nshift\nexec ip netns exec \"$ns\" /bin/sh -c \"$*\"\n");
        Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** The two hosts, or the calling test skipped with the reason when this machine cannot make them. */
    static NetnsHosts createOrSkip(Path dir) throws IOException {
        String why = null;
        NetnsHosts hosts = null;
        try {
            hosts = new NetnsHosts(dir);
        } catch (IllegalStateException | IOException e) {
            why = "cannot make two hosts of network namespaces here (needs root and ip netns): " + e.getMessage();
        }
        if (why != null) System.err.println("SKIPPED two-host MPI test: " + why);
        assumeTrue(why == null, why);
        return hosts;
    }

    /**
     * mpirun in the first host with the second in its hostfile, {@code perHost} processes each
     * (filled host by host, so ranks [0, perHost) are on the first), TCP on the veth pair only.
     */
    List<String> mpirun(int perHost) {
        return List.of("ip", "netns", "exec", names[0], "mpirun", "--allow-run-as-root", "--oversubscribe", "--hostfile", hostfile.toString(),
                "--map-by", "ppr:" + perHost + ":node", "--mca", "plm_rsh_agent", agent.toString(), "--mca", "oob_tcp_if_include", subnet,
                "--mca", "btl_tcp_if_include", subnet, "--mca", "btl", "self,vader,tcp");
    }

    /** Whether mpirun started processes in the second host (through the agent, which logs each start). */
    boolean startedProcessesInSecondHost() throws IOException {
        return Files.exists(launches) && Files.readAllLines(launches).contains(names[1]);
    }

    private static void ip(String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IllegalStateException(String.join(" ", cmd) + ": " + out);
        } catch (IOException e) {
            throw new IllegalStateException(String.join(" ", cmd) + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Deletes both namespaces (and with them the veth pair). */
    @Override
    public void close() {
        for (String ns : names) {
            try {
                ip("netns", "del", ns);
            } catch (IllegalStateException ignored) {
                // already gone (never created): nothing to undo
            }
        }
    }
}
