using Callern.Platform.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Call = Callern.Platform.Calls.Call;
using CallAcceptedEvent = Callern.Platform.Calls.CallAcceptedEvent;
using CallConnectedEvent = Callern.Platform.Calls.CallConnectedEvent;
using CallRequest = Callern.Platform.Calls.CallRequest;
using IncomingCallEvent = Callern.Platform.Calls.IncomingCallEvent;

namespace Callern.Platform.Tests.Calls;

/// <summary>A school with teachers on the hub and a student with minutes, ready to call.</summary>
public static class CallTestKit
{
    public static async Task<string> TeacherAsync(this ICallernHost app, TestTenant tenant, string id, string accent = "en-GB")
    {
        await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).UpsertTeacherAsync(id, new TeacherInput
        {
            DisplayName = "Teacher " + id, TimeZone = "Europe/London",
            Languages = [new TeacherLanguage { Language = accent, Levels = ["A2", "B1", "B2"] }],
            Specializations = ["conversational"],
        });
        return id;
    }

    /// <summary>A student granted <paramref name="seconds"/> through an admin adjustment.</summary>
    public static async Task<string> StudentWithSecondsAsync(this ICallernHost app, TestTenant tenant, string id, long seconds)
    {
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        await admin.UpsertStudentAsync(id, new StudentInput { DisplayName = "Student " + id, TimeZone = "Europe/Berlin", TargetLanguage = "en", Level = "B1" });
        if (seconds > 0)
        {
            await admin.AdjustWalletAsync(id, Guid.NewGuid().ToString(), new AdjustmentRequest { Seconds = seconds, Reason = "test grant" });
        }
        return id;
    }

    public static async Task<CallParty> AvailableTeacherAsync(this ICallernHost app, TestTenant tenant, string id, string accent = "en-GB")
    {
        await app.TeacherAsync(tenant, id, accent);
        var party = await CallParty.JoinAsync(app, tenant, id, CallernRoles.Teacher);
        await party.InvokeAsync<object>("SetAvailability", "available");
        return party;
    }

    public static async Task UseSettingsAsync(this ICallernHost app, TestTenant tenant, Action<Sdk.CallSettings> change)
    {
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        var settings = await admin.GetSettingsAsync();
        change(settings.Calls);
        await admin.UpdateSettingsAsync(settings);
    }

    /// <summary>A new school with student "s" (granted <paramref name="seconds"/>) and available teacher "t", both on the hub.</summary>
    public static async Task<CallPair> PairAsync(this ICallernHost app, long seconds)
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "s", seconds);
        var teacher = await app.AvailableTeacherAsync(tenant, "t");
        return new CallPair(tenant, await CallParty.JoinAsync(app, tenant, "s", CallernRoles.Student), teacher);
    }

    /// <summary>Requests and accepts, both sides told: an accepted call whose media has not connected.</summary>
    public static async Task<Guid> AcceptedCallAsync(CallParty student, CallParty teacher)
    {
        var call = await student.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, null));
        var incoming = await teacher.NextAsync<IncomingCallEvent>("IncomingCall");
        await teacher.InvokeAsync<CallAcceptedEvent>("AcceptOffer", incoming.OfferId);
        await student.NextAsync<CallAcceptedEvent>("CallAccepted");
        await teacher.NextAsync<CallAcceptedEvent>("CallAccepted");
        return call.Id;
    }

    /// <summary>Requests, accepts and confirms media on both sides: a connected call, billing from now.</summary>
    public static async Task<Guid> ConnectedCallAsync(CallParty student, CallParty teacher)
    {
        var callId = await AcceptedCallAsync(student, teacher);
        await ConnectMediaAsync(callId, student, teacher);
        return callId;
    }

    /// <summary>Media flows both ways and each side confirms it once: the call connects.</summary>
    public static async Task ConnectMediaAsync(Guid callId, CallParty student, CallParty teacher)
    {
        student.StartMedia(callId);
        teacher.StartMedia(callId);
        await student.ConfirmMediaAsync();
        await teacher.ConfirmMediaAsync();
        await student.NextAsync<CallConnectedEvent>("CallConnected");
        await teacher.NextAsync<CallConnectedEvent>("CallConnected");
    }
}

public sealed record CallPair(TestTenant Tenant, CallParty Student, CallParty Teacher) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        await Student.DisposeAsync();
        await Teacher.DisposeAsync();
    }
}
