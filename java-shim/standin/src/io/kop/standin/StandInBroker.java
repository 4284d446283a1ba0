package io.kop.standin;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.apache.pulsar.broker.protocol.ProtocolHandler;

/**
 * A test-only program that plays a Pulsar broker for the kop shim: it finds the handler in the
 * NAR as Pulsar does (yml descriptor, NAR class loader, public no-arg constructor), runs
 * {@code accept}, {@code initialize}, {@code getProtocolDataToAdvertise}, {@code start} and
 * {@code newChannelInitializers} with the NAR loader as context class loader, and calls
 * {@code close} on SIGTERM.
 *
 * <pre>java -cp pulsar-api-stubs.jar:standin.jar:netty... io.kop.standin.StandInBroker \
 *     --nar kop.nar --extract-dir DIR [--fault-dir DIR] [--prop key=value]...
 *     [--cluster-dir DIR --broker-url pulsar://host:port]</pre>
 *
 * <p>With {@code --cluster-dir}, several stand-ins form one cluster (see {@link StandInCluster}):
 * each serves the topics it owns and shares topic metadata with the others.
 *
 * <p>With {@code --fault-dir}, a file {@code fail-appends} or {@code fail-reads} there makes the
 * in-memory ledgers fail adds or reads while it exists.
 */
public final class StandInBroker {
    private static final String DESCRIPTOR = "META-INF/services/pulsar-protocol-handler.yml";

    private StandInBroker() {
    }

    public static void main(String[] args) throws Exception {
        Path nar = null;
        Path faults = null;
        Path clusterDir = null;
        String brokerUrl = "pulsar://127.0.0.1:6650";
        Path extract = Paths.get(System.getProperty("java.io.tmpdir"));
        Properties props = new Properties();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--nar" -> nar = Paths.get(args[++i]);
                case "--extract-dir" -> extract = Paths.get(args[++i]);
                case "--fault-dir" -> faults = Paths.get(args[++i]);
                case "--cluster-dir" -> clusterDir = Paths.get(args[++i]);
                case "--broker-url" -> brokerUrl = args[++i];
                case "--prop" -> {
                    String[] kv = args[++i].split("=", 2);
                    props.setProperty(kv[0], kv.length > 1 ? kv[1] : "");
                }
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (nar == null) {
            throw new IllegalArgumentException("--nar is required");
        }
        props.putIfAbsent("messagingProtocols", "kafka");
        StandInConfiguration conf = new StandInConfiguration(props, nar.getParent().toString(), extract.toString());

        NarClassLoader loader = NarClassLoader.open(nar, extract, StandInBroker.class.getClassLoader());
        Map<String, String> descriptor = readDescriptor(loader.root().resolve(DESCRIPTOR));
        String name = descriptor.get("name");
        if (!conf.getMessagingProtocols().contains(name)) {
            throw new IllegalStateException("messagingProtocols " + conf.getMessagingProtocols()
                + " does not name the NAR's protocol " + name);
        }
        Class<?> cls = loader.loadClass(descriptor.get("handlerClass"));
        ProtocolHandler handler = (ProtocolHandler) cls.getDeclaredConstructor().newInstance();

        inLoader(loader, () -> {
            if (!handler.accept(name)) {
                throw new IllegalStateException("handler does not accept " + name);
            }
            handler.initialize(conf);
            return null;
        });
        String advertised = inLoader(loader, handler::getProtocolDataToAdvertise);
        StandInCluster cluster = clusterDir == null
            ? StandInCluster.single(brokerUrl, props.getProperty("advertisedListeners", ""))
            : StandInCluster.open(clusterDir, brokerUrl);
        StandInBrokerService service = new StandInBrokerService(conf, faults, cluster);
        inLoader(loader, () -> {
            handler.start(service);
            return null;
        });
        Object initializers = inLoader(loader, handler::newChannelInitializers);
        if (initializers == null) {
            throw new IllegalStateException("newChannelInitializers() returned null, which crashes Pulsar");
        }

        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                inLoader(loader, () -> {
                    handler.close();
                    return null;
                });
                loader.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "standin-shutdown"));
        if (faults != null) {
            startStatusWriter(faults);
        }
        System.out.println("STANDIN READY protocol=" + name + " advertised=" + advertised);
        System.out.flush();
        closed.await();
    }

    /**
     * Answers a test's {@code status-request} file with a {@code status} file after a full GC:
     * heap in use and read entries not yet released, so soaks can tell a leak from live data.
     */
    private static void startStatusWriter(Path dir) {
        Thread t = new Thread(() -> {
            Path request = dir.resolve("status-request");
            while (true) {
                try {
                    if (Files.exists(request)) {
                        Files.delete(request);
                        for (int i = 0; i < 3; i++) {
                            System.gc();
                            Thread.sleep(50);
                        }
                        Runtime rt = Runtime.getRuntime();
                        String status = "heap_used=" + (rt.totalMemory() - rt.freeMemory()) + "\n"
                            + "outstanding_entries=" + StandInEntry.OUTSTANDING.get() + "\n";
                        Path tmp = dir.resolve("status.tmp");
                        Files.writeString(tmp, status);
                        Files.move(tmp, dir.resolve("status"), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    }
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                } catch (IOException e) {
                    e.printStackTrace();
                }
            }
        }, "standin-status");
        t.setDaemon(true);
        t.start();
    }

    private static <T> T inLoader(ClassLoader loader, Callable<T> call) throws Exception {
        Thread t = Thread.currentThread();
        ClassLoader previous = t.getContextClassLoader();
        t.setContextClassLoader(loader);
        try {
            return call.call();
        } finally {
            t.setContextClassLoader(previous);
        }
    }

    /** Reads the flat {@code key: value} lines of the handler descriptor. */
    private static Map<String, String> readDescriptor(Path path) throws IOException {
        Map<String, String> out = new HashMap<>();
        try (InputStream in = Files.newInputStream(path)) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && !line.startsWith("#")) {
                    out.put(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
                }
            }
        }
        for (String key : new String[] {"name", "handlerClass"}) {
            if (!out.containsKey(key)) {
                throw new IOException(path + " lacks " + key);
            }
        }
        return out;
    }
}
