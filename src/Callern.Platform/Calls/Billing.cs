namespace Callern.Platform.Calls;

/// <summary>What a call costs from its metered seconds, by the tenant's rules (docs/calls.md has examples).</summary>
public static class Billing
{
    /// <summary>
    /// A call that failed (connection lost) within <see cref="CallSettings.NoChargeUnderSeconds"/>
    /// is free; otherwise the metered seconds are rounded per the setting and raised to the minimum
    /// charge. The wallet caps the charge at what the call held.
    /// </summary>
    public static long Bill(long meteredSeconds, string endReason, CallSettings rules)
    {
        if (meteredSeconds <= 0 || (endReason == EndReasons.ConnectionLost && meteredSeconds < rules.NoChargeUnderSeconds))
        {
            return 0;
        }
        var rounded = rules.Rounding == BillingRounding.PerStartedMinute ? (meteredSeconds + 59) / 60 * 60 : meteredSeconds;
        return Math.Max(rounded, rules.MinimumChargeSeconds);
    }
}
