using Callern.Platform.Calls;
using Callern.Sdk.Realtime;

namespace Callern.Platform.Tests.Calls.Faults;

/// <summary>
/// The two-way media time the clients themselves confirmed, from their own records: a party's
/// media is confirmed between two of its answered confirmations at most <see cref="MaxGap"/>
/// apart when its byte counter grew between them and the platform took the later one as media
/// flowing (not refused: a stale or buffered confirmation vouches for nothing); two-way media is
/// the time both parties' confirmed spans overlap. This is what a student may be billed for (plus the bound).
/// </summary>
public static class ConfirmedMedia
{
    /// <summary>Two confirmations further apart than this (the cadence and a late sample's slack) do not vouch for the time between them.</summary>
    public static readonly TimeSpan MaxGap = MediaConfirmationRules.Interval + TimeSpan.FromSeconds(2);

    public static TimeSpan TwoWay(IReadOnlyList<MediaConfirmationReport> a, IReadOnlyList<MediaConfirmationReport> b) =>
        Total(Intersect(Spans(a), Spans(b)));

    /// <summary>The end of the last moment both confirmed media, or null when they never did.</summary>
    public static DateTimeOffset? LastTwoWay(IReadOnlyList<MediaConfirmationReport> a, IReadOnlyList<MediaConfirmationReport> b) =>
        Intersect(Spans(a), Spans(b)) is { Count: > 0 } both ? both[^1].End : null;

    /// <summary>A party's confirmed spans, merged and in order.</summary>
    public static List<Span> Spans(IReadOnlyList<MediaConfirmationReport> reports)
    {
        var accepted = reports.Where(r => r.Result is not null).OrderBy(r => r.SampledAt).ToList();
        var spans = new List<Span>();
        for (var i = 1; i < accepted.Count; i++)
        {
            var (previous, current) = (accepted[i - 1], accepted[i]);
            if (current.InboundBytes > previous.InboundBytes && current.Result!.MediaFlowing && current.SampledAt - previous.SampledAt <= MaxGap)
            {
                if (spans.Count > 0 && spans[^1].End >= previous.SampledAt)
                {
                    spans[^1] = spans[^1] with { End = current.SampledAt };
                }
                else
                {
                    spans.Add(new Span(previous.SampledAt, current.SampledAt));
                }
            }
        }
        return spans;
    }

    private static List<Span> Intersect(List<Span> a, List<Span> b)
    {
        var both = new List<Span>();
        int i = 0, j = 0;
        while (i < a.Count && j < b.Count)
        {
            var start = a[i].Start > b[j].Start ? a[i].Start : b[j].Start;
            var end = a[i].End < b[j].End ? a[i].End : b[j].End;
            if (end > start)
            {
                both.Add(new Span(start, end));
            }
            if (a[i].End < b[j].End)
            {
                i++;
            }
            else
            {
                j++;
            }
        }
        return both;
    }

    private static TimeSpan Total(List<Span> spans) => spans.Aggregate(TimeSpan.Zero, (sum, s) => sum + (s.End - s.Start));

    public readonly record struct Span(DateTimeOffset Start, DateTimeOffset End);
}
