import java.nio.file.*;
import java.util.concurrent.*;
import org.apache.pulsar.client.api.*;

/**
 * Produces COUNT messages of SIZE bytes to TOPIC with Pulsar's own client, flat out, then reads
 * them back from the start with a consumer; prints both rates in MB/s.
 */
public class PulsarProduce {
    public static void main(String[] a) throws Exception {
        String url = a[0], topic = a[1];
        int size = Integer.parseInt(a[2]);
        long count = Long.parseLong(a[3]);
        byte[] payload = new byte[size];
        try (PulsarClient client = PulsarClient.builder().serviceUrl(url).build();
             Producer<byte[]> p = client.newProducer().topic(topic).enableBatching(true)
                 .batchingMaxPublishDelay(5, TimeUnit.MILLISECONDS).batchingMaxBytes(1 << 20)
                 .batchingMaxMessages(100000).maxPendingMessages(100000).blockIfQueueFull(true)
                 .messageRoutingMode(MessageRoutingMode.RoundRobinPartition).create()) {
            long start = System.nanoTime();
            CompletableFuture<?> last = null;
            for (long i = 0; i < count; i++) {
                last = p.sendAsync(payload);
            }
            p.flush();
            last.get();
            double secs = (System.nanoTime() - start) / 1e9;
            System.out.printf("pulsar-client: %d x %d B: %.1f MB/s%n", count, size, count * size / secs / 1e6);
            try (Consumer<byte[]> c = client.newConsumer().topic(topic).subscriptionName("bench")
                     .subscriptionInitialPosition(SubscriptionInitialPosition.Earliest).receiverQueueSize(10000)
                     .subscribe()) {
                long read = 0;
                start = System.nanoTime();
                while (read < count) {
                    Messages<byte[]> batch = c.batchReceive();
                    read += batch.size();
                    c.acknowledgeAsync(batch);
                }
                secs = (System.nanoTime() - start) / 1e9;
                System.out.printf("pulsar-consume: %d x %d B: %.1f MB/s%n", read, size, read * size / secs / 1e6);
            }
        }
    }
}
