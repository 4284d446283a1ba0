package org.apache.pulsar.broker.protocol;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.util.Map;
import org.apache.pulsar.broker.ServiceConfiguration;
import org.apache.pulsar.broker.service.BrokerService;

/**
 * Compile-only stub of Pulsar 4.0's protocol handler interface
 * (pulsar-broker/src/main/java/org/apache/pulsar/broker/protocol/ProtocolHandler.java).
 */
public interface ProtocolHandler extends AutoCloseable {
    String protocolName();

    boolean accept(String protocol);

    void initialize(ServiceConfiguration conf) throws Exception;

    String getProtocolDataToAdvertise();

    void start(BrokerService service);

    Map<InetSocketAddress, ChannelInitializer<SocketChannel>> newChannelInitializers();

    @Override
    void close();
}
