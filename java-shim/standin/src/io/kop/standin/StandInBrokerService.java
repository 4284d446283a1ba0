package io.kop.standin;

import org.apache.pulsar.broker.PulsarService;
import org.apache.pulsar.broker.ServiceConfiguration;
import org.apache.pulsar.broker.service.BrokerService;

/** The broker service and service root the stand-in hands to the protocol handler. */
final class StandInBrokerService extends BrokerService {
    private final PulsarService pulsar;

    StandInBrokerService(ServiceConfiguration conf) {
        BrokerService self = this;
        this.pulsar = new PulsarService() {
            @Override
            public BrokerService getBrokerService() {
                return self;
            }

            @Override
            public ServiceConfiguration getConfiguration() {
                return conf;
            }

            @Override
            public String getBrokerServiceUrl() {
                return "pulsar://127.0.0.1:6650";
            }
        };
    }

    @Override
    public PulsarService pulsar() {
        return pulsar;
    }

    @Override
    public PulsarService getPulsar() {
        return pulsar;
    }

    @Override
    public boolean isBrokerEntryMetadataEnabled() {
        return true;
    }
}
