using Callern.Platform.Calls;
using Callern.Platform.Demo;
using Callern.Platform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using CallernRoles = Callern.Sdk.CallernRoles;

namespace Callern.Platform.Tests.Calls;

public sealed class DemoCallTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task A_demo_student_calls_a_demo_teacher_and_pays_for_the_connected_time()
    {
        var demo = await app.Services.GetRequiredService<DemoSeed>().RunAsync();
        var school = new TestTenant(demo.TenantId, demo.ApiKeyId, demo.ApiKeySecret);
        var before = (await app.SdkAs(school, "student-ana", CallernRoles.Student).GetMyWalletAsync()).AvailableSeconds;
        await using var teacher = await CallParty.JoinAsync(app, school, "teacher-emma", CallernRoles.Teacher);
        await teacher.InvokeAsync<object>("SetAvailability", "available");
        await using var student = await CallParty.JoinAsync(app, school, "student-ana", CallernRoles.Student);

        // Ana's profile says English B1 with a British accent: Emma (en-GB) is the best free teacher.
        var call = await student.InvokeAsync<Call>("RequestCall", new CallRequest(null, null, "en-GB", null, null));
        var offer = await teacher.NextAsync<IncomingCallEvent>("IncomingCall");
        await teacher.InvokeAsync<CallAcceptedEvent>("AcceptOffer", offer.OfferId);
        await CallTestKit.ConnectMediaAsync(call.Id, student, teacher);
        await app.AdvanceAsync(TimeSpan.FromSeconds(90));
        await teacher.InvokeAsync<Call>("EndCall", call.Id);
        var ended = await student.NextAsync<CallEndedEvent>("CallEnded");

        Assert.Equal(("Ana Souza", "en", "B1"), (offer.Student.DisplayName, offer.Language, offer.Level));
        Assert.Equal((EndReasons.Completed, 90L), (ended.Reason, ended.BilledSeconds));
        Assert.Equal(before - 90, (await app.SdkAs(school, "student-ana", CallernRoles.Student).GetMyWalletAsync()).AvailableSeconds);
    }
}
