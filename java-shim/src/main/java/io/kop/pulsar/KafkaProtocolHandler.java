package io.kop.pulsar;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.util.Collections;
import java.util.Map;
import org.apache.pulsar.broker.ServiceConfiguration;
import org.apache.pulsar.broker.protocol.ProtocolHandler;
import org.apache.pulsar.broker.service.BrokerService;

/**
 * The Pulsar protocol handler named {@code kafka}. It holds no Kafka logic: it reads the broker's
 * {@code kafka*} settings, loads the native kop core and starts it; the core owns the Kafka
 * listener, so no Netty channel is handed to Pulsar.
 */
public class KafkaProtocolHandler implements ProtocolHandler {
    public static final String PROTOCOL = "kafka";

    /** The interceptor that gives every entry its Kafka offset (broker entry metadata index). */
    static final String INDEX_INTERCEPTOR = "org.apache.pulsar.common.intercept.AppendIndexMetadataInterceptor";

    private ShimConfig config;
    private long running;

    public KafkaProtocolHandler() {
    }

    @Override
    public String protocolName() {
        return PROTOCOL;
    }

    @Override
    public boolean accept(String protocol) {
        return PROTOCOL.equalsIgnoreCase(protocol);
    }

    @Override
    public void initialize(ServiceConfiguration conf) {
        // Runs before the broker service exists: read configuration only.
        if (!conf.getBrokerEntryMetadataInterceptors().contains(INDEX_INTERCEPTOR)) {
            throw new IllegalArgumentException("kop needs Kafka offsets from the broker entry metadata index: add "
                + INDEX_INTERCEPTOR + " to brokerEntryMetadataInterceptors in broker.conf");
        }
        config = ShimConfig.from(conf.getProperties()).withBrokerIdentity(conf);
    }

    @Override
    public String getProtocolDataToAdvertise() {
        return config == null ? "" : config.advertisedListeners();
    }

    @Override
    public synchronized void start(BrokerService service) {
        if (config == null) {
            throw new IllegalStateException("start() called before initialize()");
        }
        NativeCore.load();
        running = NativeCore.start(config.toToml(), new PulsarBridge(service, config.listenerName()));
    }

    @Override
    public Map<InetSocketAddress, ChannelInitializer<SocketChannel>> newChannelInitializers() {
        return Collections.emptyMap();
    }

    @Override
    public synchronized void close() {
        if (running != 0) {
            long handle = running;
            running = 0;
            NativeCore.stop(handle);
        }
    }
}
