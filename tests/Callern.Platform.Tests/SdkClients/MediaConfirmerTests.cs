using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Callern.Sdk.Realtime;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Callern.Platform.Tests.SdkClients;

/// <summary>The SDK's <see cref="MediaConfirmer"/> against the platform on the real clock: the cadence is real time.</summary>
public sealed class MediaConfirmerTests(MediaConfirmerTests.RealClockApp app) : IClassFixture<MediaConfirmerTests.RealClockApp>
{
    /// <summary>The platform on a real socket and the real clock, default settings.</summary>
    public sealed class RealClockApp : KestrelCallernApp
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(services => services.Replace(ServiceDescriptor.Singleton(TimeProvider.System)));
        }
    }

    private CallernRealtimeClient Client(TestTenant tenant, string userId, string role) =>
        new(new CallernRealtimeOptions { BaseUrl = app.BaseUrl, AccessTokenProvider = _ => ValueTask.FromResult(app.Token(tenant, userId, role)) });

    [Fact]
    public async Task Confirmations_from_a_growing_counter_connect_and_bill_the_call_and_stop_when_it_ends()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "ada", 600);
        await app.TeacherAsync(tenant, "bob");
        await using var teacher = Client(tenant, "bob", CallernRoles.Teacher);
        await using var student = Client(tenant, "ada", CallernRoles.Student);
        var incoming = new Recorder<IncomingCallEvent>();
        var connected = new Recorder<CallConnectedEvent>();
        var started = DateTimeOffset.UtcNow;
        long Counter() => (long)((DateTimeOffset.UtcNow - started).TotalSeconds * 100_000);
        var confirmers = new List<MediaConfirmer>();
        var reports = new List<MediaConfirmationReport>();
        Task Record(MediaConfirmationReport r)
        {
            lock (reports)
            {
                reports.Add(r);
            }
            return Task.CompletedTask;
        }
        foreach (var client in new[] { teacher, student })
        {
            client.CallAccepted += e =>
            {
                // As an app does: CallAccepted (once per call, also for the teacher) starts the confirmations.
                var confirmer = client.StartMediaConfirmations(e.CallId, Counter);
                confirmer.Reported += Record;
                lock (confirmers)
                {
                    confirmers.Add(confirmer);
                }
                return Task.CompletedTask;
            };
            client.CallConnected += connected.Record;
        }
        teacher.IncomingCall += incoming.Record;
        await teacher.StartAsync();
        await student.StartAsync();
        await teacher.SetAvailabilityAsync(PresenceStatus.Available);
        var call = await student.RequestCallAsync(new CallRequest { Language = "en", Level = "B1" });
        await teacher.AcceptOfferAsync((await incoming.NextAsync()).OfferId);

        Assert.Equal(call.Id, (await connected.NextAsync()).CallId);
        Assert.Equal(call.Id, (await connected.NextAsync()).CallId);
        await Task.Delay(TimeSpan.FromSeconds(5));
        await student.EndCallAsync(call.Id);
        lock (confirmers)
        {
            Assert.Equal(2, confirmers.Count);
        }
        await Task.WhenAll(confirmers.Select(c => c.Completion)).WaitAsync(TimeSpan.FromSeconds(5));
        var summary = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetCallAsync(call.Id);

        List<MediaConfirmationReport> sent;
        lock (reports)
        {
            sent = [.. reports];
        }
        Assert.All(sent.Where(r => r.RefusedCode is null), r =>
            // Stamped on the platform's clock: the answer's server time is within a round trip of the sample.
            Assert.InRange(r.Result!.ServerTime - r.SampledAt, TimeSpan.FromSeconds(-1), TimeSpan.FromSeconds(1)));
        Assert.Contains(sent, r => r.Result is { Billing: true, MediaFlowing: true });
        // Every 4 s on each side, from accept to end (about 5-7 s): two or three each, not a flood.
        Assert.InRange(sent.Count, 4, 8);
        Assert.True(summary.BilledSeconds > 0);
        var count = sent.Count;
        await Task.Delay(MediaConfirmer.Interval * 2);
        lock (reports)
        {
            Assert.Equal(count, reports.Count); // stopped with the call
        }
    }
}
