package org.apache.pulsar.broker.lookup;

import org.apache.pulsar.common.lookup.data.LookupData;

/** The stand-in broker's runtime LookupResult, shadowing the compile-only stub. */
public class LookupResult {
    private final LookupData data;

    public LookupResult(LookupData data) {
        this.data = data;
    }

    public boolean isBrokerUrl() {
        return true;
    }

    public boolean isRedirect() {
        return false;
    }

    public LookupData getLookupData() {
        return data;
    }
}
