using System.Diagnostics;
using System.Net;
using Callern.Platform.Calls;
using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.AspNetCore.SignalR;
using static Callern.Platform.Tests.Tenancy.OriginTests;
using Call = Callern.Platform.Calls.Call;
using CallAcceptedEvent = Callern.Platform.Calls.CallAcceptedEvent;
using CallRequest = Callern.Platform.Calls.CallRequest;
using IncomingCallEvent = Callern.Platform.Calls.IncomingCallEvent;
using MatchPreviewRequest = Callern.Sdk.MatchPreviewRequest;
using SignalMessage = Callern.Platform.Calls.SignalMessage;

namespace Callern.Platform.Tests.ScaleOut;

/// <summary>
/// Issue 19: every per-node cache hears of a change made on another node within a second. Two
/// nodes on one database whose fake clock stands still, so no cache entry ever expires by age:
/// only the change's notice (PostgreSQL NOTIFY) can tell node B what node A changed.
/// </summary>
public sealed class CacheNoticeTests
{
    private static readonly TimeSpan OneSecond = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task A_settings_change_on_node_A_is_read_on_node_B_within_a_second()
    {
        var (nodeA, nodeB) = Nodes();
        await using var _ = nodeB;
        var tenant = await nodeA.CreateTenantAsync();
        var adminOnB = nodeB.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        var before = await adminOnB.GetSettingsAsync();
        before.PresenceGraceSeconds = 42;

        await nodeA.SdkAs(tenant, "admin-1", CallernRoles.Admin).UpdateSettingsAsync(before);

        await SeenWithinOneSecondAsync(async () => (await adminOnB.GetSettingsAsync()).PresenceGraceSeconds == 42);
        nodeA.Dispose();
    }

    [Fact]
    public async Task An_origin_allowed_on_node_A_is_answered_by_node_B_within_a_second()
    {
        var (nodeA, nodeB) = Nodes();
        await using var _ = nodeB;
        var tenant = await nodeA.CreateTenantAsync();
        var browserOnB = nodeB.Anonymous();
        Assert.Null(AllowedOriginHeader(await PreflightAsync(browserOnB, "https://cache.school.example")));

        await nodeA.SdkAs(tenant, "admin-1", CallernRoles.Admin).AddAllowedOriginAsync(new AddOriginRequest { Origin = "https://cache.school.example" });

        await SeenWithinOneSecondAsync(async () =>
            AllowedOriginHeader(await PreflightAsync(browserOnB, "https://cache.school.example")) == "https://cache.school.example");
        nodeA.Dispose();
    }

    [Fact]
    public async Task An_api_key_revoked_on_node_A_is_refused_by_node_B_within_a_second()
    {
        var (nodeA, nodeB) = Nodes();
        await using var _ = nodeB;
        var tenant = await nodeA.CreateTenantAsync();
        var key = await CallernApp.Sdk(nodeA.Operator()).CreateApiKeyAsync(tenant.Id);
        var student = nodeB.As(new TestTenant(tenant.Id, key.KeyId, key.Secret), "s1", CallernRoles.Student);
        // Node B now holds the key in its cache.
        Assert.Equal(HttpStatusCode.OK, (await student.GetAsync("/v1/me/wallet")).StatusCode);

        await CallernApp.Sdk(nodeA.Operator()).RevokeApiKeyAsync(tenant.Id, key.KeyId);

        await SeenWithinOneSecondAsync(async () => (await student.GetAsync("/v1/me/wallet")).StatusCode == HttpStatusCode.Unauthorized);
        nodeA.Dispose();
    }

    [Fact]
    public async Task A_teacher_who_went_away_on_node_A_leaves_node_B_s_matching_within_a_second()
    {
        var (nodeA, nodeB) = Nodes();
        await using var _ = nodeB;
        var tenant = await nodeA.CreateTenantAsync();
        await nodeA.StudentWithSecondsAsync(tenant, "mia", 600);
        await using var teacher = await nodeA.AvailableTeacherAsync(tenant, "t");
        var adminOnB = nodeB.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        async Task<bool> Candidate() =>
            (await adminOnB.PreviewMatchingAsync(new MatchPreviewRequest { StudentId = "mia" })).Candidates.Any(c => c.TeacherId == "t");
        // Node B now holds the tenant's snapshot of available teachers.
        Assert.True(await Candidate());

        await nodeA.SdkAs(tenant, "t", CallernRoles.Teacher).SetMyAvailabilityAsync(new SetAvailabilityRequest { Status = PresenceStatus.Away });

        await SeenWithinOneSecondAsync(async () => !await Candidate());
        nodeA.Dispose();
    }

    [Fact]
    public async Task A_call_ended_on_node_A_relays_no_more_signals_on_node_B_within_a_second()
    {
        var (nodeA, nodeB) = Nodes();
        await using var _ = nodeB;
        var tenant = await nodeA.CreateTenantAsync();
        await nodeA.StudentWithSecondsAsync(tenant, "s", 600);
        await using var teacher = await nodeB.AvailableTeacherAsync(tenant, "t");
        await using var student = await CallParty.JoinAsync(nodeB, tenant, "s", CallernRoles.Student);
        var call = await student.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, null));
        await teacher.InvokeAsync<CallAcceptedEvent>("AcceptOffer", (await teacher.NextAsync<IncomingCallEvent>("IncomingCall")).OfferId);
        // Node B now holds the call's participants for its relay.
        await student.InvokeAsync("SendSignal", call.Id, new SignalMessage("offer", "v=0 offer-sdp"));

        await nodeA.SdkAs(tenant, "s", CallernRoles.Student).EndCallAsync(call.Id);

        await SeenWithinOneSecondAsync(async () =>
        {
            try
            {
                await student.InvokeAsync("SendSignal", call.Id, new SignalMessage("offer", "v=0 again"));
                return false;
            }
            catch (HubException refused)
            {
                return refused.Message.Contains("call_ended", StringComparison.Ordinal);
            }
        });
        nodeA.Dispose();
    }

    /// <summary>Node A and node B on one database and one clock that stands still.</summary>
    private static (CallernApp NodeA, CallernApp NodeB) Nodes()
    {
        var nodeA = new CallernApp();
        _ = nodeA.Clock;
        return (nodeA, nodeA.NextNode());
    }

    /// <summary>Polls from the moment the change returned; fails unless <paramref name="seen"/> holds within a second.</summary>
    private static async Task SeenWithinOneSecondAsync(Func<Task<bool>> seen)
    {
        var since = Stopwatch.StartNew();
        while (!await seen())
        {
            Assert.True(since.Elapsed < OneSecond, $"node B still answered from its cache {since.Elapsed.TotalMilliseconds:F0} ms after the change on node A");
            await Task.Delay(20);
        }
    }
}
