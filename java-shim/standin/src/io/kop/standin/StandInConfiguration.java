package io.kop.standin;

import java.util.Properties;
import java.util.Set;
import org.apache.pulsar.broker.ServiceConfiguration;

/** The broker configuration as the stand-in sets it: properties from the command line. */
final class StandInConfiguration extends ServiceConfiguration {
    private final Properties properties;
    private final String narDirectory;
    private final String extractionDirectory;

    StandInConfiguration(Properties properties, String narDirectory, String extractionDirectory) {
        this.properties = properties;
        this.narDirectory = narDirectory;
        this.extractionDirectory = extractionDirectory;
    }

    @Override
    public Properties getProperties() {
        return properties;
    }

    @Override
    public Set<String> getMessagingProtocols() {
        return Set.of(properties.getProperty("messagingProtocols", "kafka").split(","));
    }

    @Override
    public String getProtocolHandlerDirectory() {
        return narDirectory;
    }

    @Override
    public String getNarExtractionDirectory() {
        return extractionDirectory;
    }

    @Override
    public Set<String> getBrokerEntryMetadataInterceptors() {
        return Set.of("org.apache.pulsar.common.intercept.AppendIndexMetadataInterceptor");
    }
}
