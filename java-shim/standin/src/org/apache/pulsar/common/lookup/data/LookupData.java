package org.apache.pulsar.common.lookup.data;

/** The stand-in broker's runtime LookupData, shadowing the compile-only stub. */
public class LookupData {
    private final String brokerUrl;
    private final String httpUrl;

    public LookupData(String brokerUrl, String httpUrl) {
        this.brokerUrl = brokerUrl;
        this.httpUrl = httpUrl;
    }

    public String getBrokerUrl() {
        return brokerUrl;
    }

    public String getBrokerUrlTls() {
        return null;
    }

    public String getHttpUrl() {
        return httpUrl;
    }
}
