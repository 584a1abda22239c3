using Callern.Platform.Demo;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.Extensions.DependencyInjection;

namespace Callern.Platform.Tests.Demo;

public sealed class DemoSeedTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task Seeding_twice_keeps_one_demo_school_with_varied_teachers()
    {
        var seed = app.Services.GetRequiredService<DemoSeed>();

        var first = await seed.RunAsync();
        var second = await seed.RunAsync();

        Assert.Equal((first.TenantId, first.ApiKeyId, first.ApiKeySecret), (second.TenantId, second.ApiKeyId, second.ApiKeySecret));
        var tenants = await CallernApp.Sdk(app.Operator()).ListTenantsAsync(null, 200);
        Assert.Single(tenants.Items, t => t.Name == DemoSeed.TenantName);
        var admin = CallernApp.Sdk(app.WithBearer(new AccessTokenBuilder(first.ApiKeyId, first.ApiKeySecret).ForUser(first.Users.Admin, CallernRoles.Admin).Build()));
        var teachers = (await admin.ListTeachersAsync(limit: 200)).Items;
        Assert.True(teachers.Count >= 6);
        Assert.True(teachers.SelectMany(t => t.Languages).Select(l => l.Language).Distinct().Count() >= 5, "accents should vary");
        Assert.True(teachers.Select(t => t.TimeZone).Distinct().Count() >= 5);
        Assert.Equal(first.Users.Students.Count, (await admin.ListStudentsAsync(limit: 200)).Items.Count);
    }

    [Fact]
    public async Task Seeding_twice_gives_a_package_catalog_and_every_student_one_paid_package_once()
    {
        var seed = app.Services.GetRequiredService<DemoSeed>();

        var first = await seed.RunAsync();
        await seed.RunAsync();

        var admin = CallernApp.Sdk(app.WithBearer(new AccessTokenBuilder(first.ApiKeyId, first.ApiKeySecret)
            .ForUser(first.Users.Admin, CallernRoles.Admin).Build()));
        Assert.Equal(3, (await admin.ListPackagesAsync(includeArchived: true)).Items.Count);
        foreach (var student in first.Users.Students)
        {
            var wallet = await admin.GetStudentWalletAsync(student);
            Assert.True(wallet.AvailableSeconds >= 3600, $"{student} has {wallet.AvailableSeconds} s");
            Assert.Single(wallet.Lots);
            Assert.Single((await admin.ListStudentTransactionsAsync(student)).Items);
        }
    }
}
